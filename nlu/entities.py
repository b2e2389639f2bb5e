"""Entities from rules, with character offsets into the text.

The rules find ticket references, urgency, impact, catalog items, services, datetimes, emails
and phone numbers.

Services and catalog items are matched on lower-cased tokens by spaCy `PhraseMatcher`s that are
rebuilt whenever the configuration database sends new names (`set_services`, `set_catalog`), so
they change without retraining anything.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans
from spacy.vocab import Vocab

from nlu import patterns
from nlu.datetimes import find_datetimes
from nlu.types import CatalogEntry, Entity, EntityName

_SEP = "\x1f"
_CHINESE_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def _ticket_refs(text: str) -> list[Entity]:
    found: list[Entity] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, value: str) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(
            Entity(
                entity=EntityName.TICKET_REF,
                value=value,
                start=start,
                end=end,
                text=text[start:end],
            )
        )

    for m in patterns.TICKET_CODE.finditer(text):
        sep = text[m.end("kind") : m.start("num")]
        if sep.strip() == "" and sep and len(m.group("num")) < 2:
            continue  # "req 2 laptops"
        prefix = patterns.TICKET_PREFIXES[m.group("kind").lower()]
        add(m.start(), m.end(), f"{prefix}-{int(m.group('num'))}")
    for m in patterns.TICKET_WORD.finditer(text):
        kind = patterns.ticket_kind(m.group("kind"))
        num = m.group("num")
        # "case" is also an everyday word ("case 100 printers are broken", "in case 2 fail"):
        # it names a ticket only with a "#" or a number marker ("case #100", "case no. 100").
        if m.group("kind").lower() == "case" and not (m.group("hash") or m.group("marker")):
            continue
        # "change 2 servers", "request 3 licences": a bare small number after a common noun is
        # a quantity; an explicit "#" or an id-like number makes it a reference.
        if not m.group("hash") and len(num) < 3 and kind in ("REQ", "CHG", ""):
            continue
        value = f"{kind}-{int(num)}" if kind else f"#{int(num)}"
        add(m.start(), m.end(), value)
    for m in patterns.TICKET_HASH.finditer(text):
        add(m.start(), m.end(), f"#{int(m.group('num'))}")
    return found


def _normalise_phone(raw: str, language: str, country_code: str) -> str | None:
    digits = re.sub(r"\D", "", raw)
    stripped = raw.lstrip("(")
    if stripped.startswith("+"):
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if stripped.startswith("00"):
        digits = digits[2:]
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if _CHINESE_MOBILE.match(digits) and (language == "zh" or country_code == "86"):
        return f"+86{digits}"
    if country_code == "1":
        if len(digits) == 10 and digits[0] not in "01":
            return f"+1{digits}"
        if len(digits) == 11 and digits[0] == "1" and digits[1] not in "01":
            return f"+{digits}"
        return None
    if len(digits) >= 8 and digits[0] == "0":
        return f"+{country_code}{digits[1:]}"
    return None


SPAN_KEY = "switchboard.entities"
"""`doc.spans` key of every entity found, overlaps included (`doc.ents` keeps the longest)."""


def set_spans(doc: Doc, entities: Sequence[Entity]) -> None:
    """Record entities on the doc as spaCy spans.

    All of them go in `doc.spans[SPAN_KEY]`, the longest non-overlapping ones in `doc.ents`.
    A span's label is the entity name, its `kb_id_` the entity's value.

    Spans cover whole tokens, so a span may be wider than the entity's character offsets
    (which stay exact on the `Entity`). A doc without entities is left as it is: no span
    group, empty `doc.ents` (most messages have none, and this keeps them at no cost).
    """
    if not entities:
        return
    spans = []
    for e in entities:
        span = doc.char_span(e.start, e.end, label=e.entity, kb_id=e.value, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.spans[SPAN_KEY] = spans
    doc.ents = filter_spans(spans)


class EntityExtractor:
    """Finds every entity in a parsed doc; services and catalog can be replaced at run time."""

    def __init__(
        self,
        vocab: Vocab,
        make_doc: Callable[[str], Doc],
        *,
        services: Iterable[CatalogEntry] = patterns.DEFAULT_SERVICES,
        catalog: Iterable[CatalogEntry] = patterns.DEFAULT_CATALOG,
        country_code: str = "1",
    ) -> None:
        self._vocab = vocab
        self._make_doc = make_doc
        self._lock = threading.Lock()
        self.country_code = country_code
        self._cues = self._build_matcher(
            [
                (f"{EntityName.URGENCY}{_SEP}{level}", cues)
                for level, cues in patterns.URGENCY_CUES.items()
            ]
            + [
                (f"{EntityName.IMPACT}{_SEP}{level}", cues)
                for level, cues in patterns.IMPACT_CUES.items()
            ]
        )
        self._services = self._build_entries(EntityName.SERVICE, services)
        self._catalog = self._build_entries(EntityName.CATALOG_ITEM, catalog)

    def _build_matcher(self, groups: Iterable[tuple[str, Iterable[str]]]) -> PhraseMatcher:
        matcher = PhraseMatcher(self._vocab, attr="LOWER")
        for key, phrases in groups:
            docs = [self._make_doc(p) for p in dict.fromkeys(phrases) if p.strip()]
            if docs:
                matcher.add(key, docs)
        return matcher

    def _build_entries(self, label: str, entries: Iterable[CatalogEntry]) -> PhraseMatcher:
        return self._build_matcher(
            (f"{label}{_SEP}{e.name}", (e.name, *e.aliases)) for e in entries
        )

    def set_services(self, entries: Iterable[CatalogEntry]) -> None:
        """Replace the service names and aliases (from the configuration database)."""
        matcher = self._build_entries(EntityName.SERVICE, list(entries))
        with self._lock:
            self._services = matcher

    def set_catalog(self, entries: Iterable[CatalogEntry]) -> None:
        """Replace the service-catalog items and their aliases."""
        matcher = self._build_entries(EntityName.CATALOG_ITEM, list(entries))
        with self._lock:
            self._catalog = matcher

    def _phrases(self, doc: Doc, matcher: PhraseMatcher) -> list[Entity]:
        """Phrase-matcher hits, keeping the longest of overlapping hits of one label."""
        strings = self._vocab.strings
        by_label: dict[str, list[tuple[str, Span]]] = {}
        for match_id, start, end in matcher(doc):
            label, value = strings[match_id].split(_SEP, 1)
            by_label.setdefault(label, []).append((value, doc[start:end]))
        out: list[Entity] = []
        for label, items in by_label.items():
            keep = {(s.start, s.end) for s in filter_spans([span for _, span in items])}
            for value, span in items:
                if (span.start, span.end) in keep:
                    keep.discard((span.start, span.end))
                    out.append(
                        Entity(entity=label, value=value, start=span.start_char,
                               end=span.end_char, text=span.text)
                    )  # fmt: skip
        return out

    def extract(
        self, doc: Doc, *, language: str, now: datetime, text: str | None = None
    ) -> list[Entity]:
        """All entities of `doc` (whose text is `text`, if known), sorted by position."""
        text = doc.text if text is None else text
        with self._lock:
            services, catalog = self._services, self._catalog
        found = _ticket_refs(text)
        taken = [(e.start, e.end) for e in found]
        for m in patterns.EMAIL.finditer(text):
            found.append(
                Entity(
                    entity=EntityName.EMAIL,
                    value=m.group(0).lower(),
                    start=m.start(),
                    end=m.end(),
                    text=m.group(0),
                )
            )
            taken.append((m.start(), m.end()))
        for t in find_datetimes(text, now):
            if any(t.start < e and s < t.end for s, e in taken):
                continue
            found.append(
                Entity(
                    entity=EntityName.DATETIME,
                    value=t.value.isoformat(),
                    start=t.start,
                    end=t.end,
                    text=text[t.start : t.end],
                )
            )
            taken.append((t.start, t.end))
        for m in patterns.PHONE.finditer(text):
            start, end = m.start(), m.end()
            raw = m.group(0).rstrip(") ")
            end = start + len(raw)
            if any(start < e and s < end for s, e in taken):
                continue
            value = _normalise_phone(raw, language, self.country_code)
            if value:
                found.append(
                    Entity(entity=EntityName.PHONE, value=value, start=start, end=end, text=raw)
                )
                taken.append((start, end))
        found.extend(self._phrases(doc, self._cues))
        for m in patterns.IMPACT_WIDE.finditer(text):
            found.append(
                Entity(
                    entity=EntityName.IMPACT,
                    value="high",
                    start=m.start(),
                    end=m.end(),
                    text=m.group(0),
                )
            )
        for m in patterns.URGENCY_TONE.finditer(text):
            found.append(
                Entity(
                    entity=EntityName.URGENCY,
                    value="high",
                    start=m.start(),
                    end=m.end(),
                    text=m.group(0),
                )
            )
        found.extend(self._phrases(doc, services))
        found.extend(self._phrases(doc, catalog))
        found.sort(key=lambda e: (e.start, e.end, e.entity))
        return found
