// Live updates on a ticket page: the server says when the ticket changed (server-sent events).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var url = "/console/tickets/" + encodeURIComponent(live.dataset.ref) +
    "/live?version=" + encodeURIComponent(live.dataset.version);
  var source = new EventSource(url);
  source.addEventListener("changed", function (event) {
    var data = {};
    try { data = JSON.parse(event.data); } catch (e) { data = {}; }
    live.hidden = false;
    if (data.status) {
      var status = document.getElementById("status");
      if (status) { status.textContent = data.status; }
    }
    source.close();
  });
}());
