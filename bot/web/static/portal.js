// Knowledge suggestions while the subject of a new ticket is typed, and a "back" that keeps
// what was typed. The form works without this script.
(function () {
  "use strict";

  for (const link of document.querySelectorAll("a.back-link")) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) {
        event.preventDefault();
        window.history.back();
      }
    });
  }

  const subject = document.getElementById("subject");
  const box = document.getElementById("suggestions");
  const submission = document.getElementById("submission");
  if (!subject || !box || !submission || !document.getElementById("new-ticket")) {
    return;
  }
  const list = box.querySelector("ul");
  const form = document.getElementById("new-ticket");
  const description = document.getElementById("description");

  // Pages are not cached (they hold personal data), so the draft survives a visit to a
  // suggested article in this tab's session storage instead; sending the form clears it.
  const DRAFT = "switchboard.portal.draft";
  function saveDraft() {
    const kind = form.querySelector("input[name=kind]:checked");
    sessionStorage.setItem(DRAFT, JSON.stringify({
      submission: submission.value,
      subject: subject.value,
      description: description ? description.value : "",
      kind: kind ? kind.value : "incident",
    }));
  }
  try {
    const draft = JSON.parse(sessionStorage.getItem(DRAFT) || "null");
    if (draft && !subject.value) {
      submission.value = draft.submission || submission.value;
      subject.value = draft.subject || "";
      if (description) description.value = draft.description || "";
      const kind = form.querySelector("input[name=kind][value=" + JSON.stringify(draft.kind || "incident") + "]");
      if (kind) kind.checked = true;
    }
  } catch (err) {
    sessionStorage.removeItem(DRAFT);
  }
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);
  form.addEventListener("submit", function () { sessionStorage.removeItem(DRAFT); });
  let timer = null;
  let asked = "";
  let controller = null;

  function show(articles) {
    list.replaceChildren();
    for (const a of articles) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/portal/knowledge/" + encodeURIComponent(a.slug) +
        "?from=" + encodeURIComponent(submission.value);
      link.textContent = a.title;
      const hint = document.createElement("p");
      hint.className = "hint";
      hint.textContent = a.snippet;
      item.append(link, hint);
      list.append(item);
    }
    box.hidden = articles.length === 0;
  }

  async function ask(query) {
    if (controller) {
      controller.abort();
    }
    controller = new AbortController();
    try {
      const res = await fetch("/portal/suggest?q=" + encodeURIComponent(query), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (!res.ok) {
        return;
      }
      const data = await res.json();
      if (query === asked) {
        show(data.articles || []);
      }
    } catch (err) {
      if (err.name !== "AbortError") {
        show([]);
      }
    }
  }

  subject.addEventListener("input", function () {
    const query = subject.value.trim();
    window.clearTimeout(timer);
    if (query.length < 3) {
      asked = "";
      show([]);
      return;
    }
    timer = window.setTimeout(function () {
      asked = query;
      ask(query);
    }, 250);
  });
})();
