"""Skill extraction: one compiled, prefix-factored pattern over every catalog alias.

The catalog (data/skills.json) is hand-curated package data. `extract_skills` makes a single
pass over the prepared text; context checks for ambiguous forms ("Go", "Spring", "R") run
on those hits only. The rules are in the README's "Skills" section.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from . import accelerator
from .text import MAX_TITLE, to_plain_text

CATEGORIES = ("language", "framework", "library", "database", "cloud", "devops", "data", "ml",
              "tool", "platform", "practice")


class CatalogError(ValueError):
    """The skill catalog breaks one of its load-time rules."""


@dataclass(frozen=True)
class Skill:
    id: str
    name: str
    category: str


@dataclass(frozen=True)
class Alias:
    text: str
    skill: str
    needs_context: bool = False
    case_sensitive: bool = False
    also: tuple[str, ...] = ()
    context_after: tuple[str, ...] = ()
    blocked_after: re.Pattern | None = None
    blocked_before: re.Pattern | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.skill, *self.also)


@dataclass
class Catalog:
    skills: dict[str, Skill]
    aliases: dict[str, list[Alias]]      # lower-cased, single-spaced text -> its forms
    pattern: re.Pattern = field(repr=False)  # matches lower-cased text; group 1 is the alias
    ascii_pattern: re.Pattern = field(repr=False)  # the same, for text that is all ASCII
    plain: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)  # keys that need no checks
    key_ids: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)  # every id a key can yield
    scanner: object = field(default=None, repr=False)  # accelerator: ascii_pattern's spans, in C

    def spans(self, lowered: str):
        """(start, end) of every alias in lower-cased text that starts with a newline."""
        if lowered.isascii():
            if self.scanner is not None:
                return self.scanner.spans(lowered)
            return (m.span(1) for m in self.ascii_pattern.finditer(lowered))
        return (m.span(1) for m in self.pattern.finditer(lowered))


def load_catalog(text: str | None = None) -> Catalog:
    """Load and check the catalog (the packaged one unless `text` is given) and compile it."""
    raw = json.loads(text if text is not None else
                     resources.files(__package__).joinpath("data/skills.json").read_text("utf-8"))
    skills: dict[str, Skill] = {}
    aliases: dict[str, list[Alias]] = {}
    owner: dict[str, str] = {}
    for entry in raw["skills"]:
        skill = Skill(entry["id"], entry["name"], entry["category"])
        if skill.id in skills:
            raise CatalogError(f"duplicate skill id {skill.id!r}")
        if skill.category not in CATEGORIES:
            raise CatalogError(f"{skill.id}: unknown category {skill.category!r}")
        skills[skill.id] = skill
        for alias in _entry_aliases(entry):
            key = _key(alias.text)
            if owner.setdefault(key, skill.id) != skill.id:
                raise CatalogError(f"alias {alias.text!r} belongs to both {owner[key]!r} and {skill.id!r}")
            aliases.setdefault(key, []).append(alias)
    for forms in aliases.values():
        for alias in forms:
            unknown = [i for i in alias.also if i not in skills]
            if unknown:
                raise CatalogError(f"alias {alias.text!r} yields unknown ids {unknown}")
    plain = {key: forms[0].ids for key, forms in aliases.items()
             if not any(f.needs_context or f.case_sensitive or f.blocked_after or f.blocked_before for f in forms)}
    key_ids = {key: frozenset(i for f in forms for i in f.ids) for key, forms in aliases.items()}
    return Catalog(skills, aliases, *_compile(aliases), plain, key_ids, _scanner(aliases))


def _entry_aliases(entry: dict) -> list[Alias]:
    explicit = [_alias(spec, entry["id"]) for spec in entry["aliases"]]
    ambiguous = {a.text.lower() for a in explicit if a.needs_context}
    listed = {a.text for a in explicit}
    implicit = [Alias(text, entry["id"]) for text in dict.fromkeys((entry["id"], entry["name"]))
                if text.lower() not in ambiguous and text not in listed]
    return _dedupe(explicit + implicit)


def _dedupe(forms: list[Alias]) -> list[Alias]:
    seen, out = set(), []
    for alias in forms:
        marker = (alias.text, alias.needs_context, alias.case_sensitive)
        if marker not in seen:
            seen.add(marker)
            out.append(alias)
    return out


def _alias(spec, skill_id: str) -> Alias:
    if isinstance(spec, str):
        return Alias(spec, skill_id)
    return Alias(
        spec["text"], skill_id,
        needs_context=spec.get("needs_context", False),
        case_sensitive=spec.get("case_sensitive", False),
        also=tuple(spec.get("also", ())),
        context_after=tuple(spec.get("context_after", ())),
        blocked_after=re.compile(spec["blocked_after"], re.I) if spec.get("blocked_after") else None,
        blocked_before=re.compile(spec["blocked_before"], re.I) if spec.get("blocked_before") else None,
    )


def _key(text: str) -> str:
    return " ".join(text.lower().split())


# ---- the single pattern -----------------------------------------------------------------

_PROPER_NAMES = ("ventures", "capital", "park", "stadium", "arena", "tower", "foundation")
_PROPER_NAME_AFTER = rf"\s+(?:{'|'.join(_PROPER_NAMES)})\b"


def _scanner(aliases: dict[str, list[Alias]]):
    """The accelerator's scanner of the ASCII aliases (only those can occur in ASCII text), or None."""
    if accelerator.scan is None:
        return None
    return accelerator.scan.Scanner([key for key in aliases if key.isascii()], _PROPER_NAMES)


def _compile(aliases: dict[str, list[Alias]]) -> tuple[re.Pattern, re.Pattern]:
    """A regex trie of every alias (branches share prefixes, longer forms are tried first), for any
    text and for ASCII text."""
    trie: dict = {}
    for key in aliases:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}
    body = _trie_regex(trie)
    # Boundaries: no letter, digit, _ or hashtag before; none of those, nor + or #,
    # after; a "." followed by a letter continues the token ("Node" never inside "Node.js").
    # Names of investors and places ("Snowflake Ventures", "Oracle Park") are blocked here too.
    # The character before the alias is consumed, not looked behind at: a pattern that starts with
    # a character class lets the regex engine skip through words in C, 1.4x faster. Group 1 is the
    # alias; the text scanned starts with a newline so an alias can open it. In ASCII text, that
    # class already rules out every word character, and the Unicode look-behind (a third of the
    # scan) can go.
    after = rf"({body})(?![\w+#])(?!\.\w)(?!{_PROPER_NAME_AFTER})"
    return (re.compile(rf"[^a-z0-9_#@$](?<![\w#@$])(?<!\w\.){after}"),
            re.compile(rf"[^a-z0-9_#@$](?<![a-z0-9_]\.){after}"))


def _trie_regex(node: dict) -> str:
    branches = [(r"\s+" if char == " " else re.escape(char)) + _trie_regex(node[char])
                for char in sorted(k for k in node if k)]
    if not branches:
        return ""
    group = "(?:" + "|".join(branches) + ")" if len(branches) > 1 or "" in node else branches[0]
    return group + "?" if "" in node else group  # greedy: the longer form is tried first


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return load_catalog()


# ---- extraction ---------------------------------------------------------------------------

_CUES_AFTER = ("developer", "developers", "engineer", "engineers", "engineering", "programming",
               "programmer", "programmers", "language", "languages", "code", "codebase", "coding",
               "framework", "frameworks", "library", "libraries", "sdk", "sdks", "api", "apis", "app",
               "apps", "application", "applications", "server", "servers", "backend", "backends",
               "script", "scripts", "scripting", "stack", "engine", "engines", "development", "experience",
               "skills", "expertise", "ecosystem", "environment", "projects", "services")
_NEXT_WORDS = re.compile(r"[\s,:]*([\w.+#/-]+)(?:\s+([\w.+#/-]+))?")
_CUE_BEFORE = re.compile(r"(?:\b(?:in|using|with|on|like|including|includes|via|through|use|uses|"
                         r"leverage|leveraging|such\s+as|e\.g\.?|eg|i\.e\.?|particularly|especially|"
                         r"preferably|ideally|knowledge\s+of|experience\s+in|proficiency\s+in)\b|\be\.g\.)"
                         r"[\s:,(]*$", re.I)
_LABEL_BEFORE = re.compile(r"(?:^|\n)[ \t\-*•]*[\w /&+-]{2,30}:[ \t]*(?:[^\n]*[,;/|][ \t]*)?$")
_LIST_BEFORE = re.compile(r"(?:[,/;|&(+•*]|\band|\bor|\bplus|^\s*-|\n\s*-)\s*$", re.I)
_LIST_AFTER = re.compile(r"^\s*(?:[,/;|&)+]|\band\b|\bor\b|\bplus\b|$|\n)", re.I)
_HYPHEN_BEFORE = re.compile(r"\w-$")
_HYPHEN_AFTER = re.compile(r"^-\w")
_SEGMENT_END = re.compile(r"[\n.!?;](?:(?<=\n)|(?=\s))")
# Sentences about applying or perks name tools (Word, GitHub, Windows) that are not asks.
_NOT_AN_ASK = re.compile(
    r"\b(?:to\s+apply|how\s+to\s+apply|apply\s+(?:now|here|today|via|through|by|at|online)|"
    r"send\s+(?:us\s+)?(?:your|a)\s+(?:r[ée]sum[ée]|cv|application)|r[ée]sum[ée]|cover\s+letter|"
    r"laptop|macbook|equipment|perks?|stipend|home\s+office|your\s+(?:github|gitlab|portfolio)\s+profile|"
    r"link\s+(?:to\s+)?your|pick\s+your|choice\s+of\s+(?:laptop|hardware|os|operating))")  # on lower-cased text


# A cheap test before that scan: every _NOT_AN_ASK match contains one of these (no whitespace in
# them, since the pattern allows any run of it).
_NOT_AN_ASK_TRIGGERS = ("apply", "send", "esum", "ésum", "letter", "laptop", "macbook", "equipment", "perk",
                        "stipend", "office", "profile", "link", "pick", "choice")


@dataclass
class _Hit:
    start: int
    ids: tuple[str, ...]
    end: int = 0
    forms: list[Alias] = field(default_factory=list)
    exact_case: bool = True


def extract_skills(title: str | None, description: str | None = "", *, prepared: bool = False) -> list[str]:
    """Sorted canonical skill ids named in a posting's title and description."""
    text = f"{(title or '')[:MAX_TITLE]}\n{description or ''}" if prepared else \
        f"{to_plain_text(title)[:MAX_TITLE]}\n{to_plain_text(description)}"
    return sorted(_ids(text, catalog()))


def _ids(text: str, cat: Catalog) -> set[str]:
    text = "\n" + text
    lowered = _lower_same_length(text)
    spans = _non_ask_spans(lowered)
    if spans:
        text, lowered = _blank(text, spans), _blank(lowered, spans)
    found: set[str] = set()
    last_anchor = -1                 # where the latest confirmed hit starts
    waiting: list[_Hit] = []         # list items of the current segment, waiting for an anchor
    waiting_end = -1
    seg_start, seg_end = 0, 0        # the segment of the latest list item: found once per segment
    plain, key_ids = cat.plain, cat.key_ids
    for start, end in cat.spans(lowered):
        if waiting and start >= waiting_end:
            waiting = []             # their segment ended with no confirmed hit: they do not count
        key = lowered[start:end]
        ids = plain.get(key)
        if ids is None:
            if key not in key_ids:
                key = " ".join(key.split())  # a multi-word alias across a tab, a newline or a Unicode space
            if not key_ids[key] <= found:
                # Whether a form counts on its own depends only on the text around it; boilerplate
                # repeats across postings, so those verdicts are remembered.
                context = (min(start, 60), text[max(0, start - 60):end + 60])
                verdict = _VERDICTS.get(context)
                if verdict is None:
                    verdict = _verdict(start, end, text, cat)
                    if len(_VERDICTS) >= _VERDICTS_SIZE:
                        _VERDICTS.clear()
                    _VERDICTS[context] = verdict
                hit = verdict if isinstance(verdict, _Hit) else None
                if verdict is False:
                    continue
                if isinstance(verdict, tuple):
                    ids = verdict
                else:  # a list item: it counts if a confirmed hit shares its line or sentence
                    if start >= seg_end:
                        seg_start, seg_end = _segment_bounds(lowered, start, max(seg_end - 1, 0))
                    if last_anchor >= seg_start:
                        found.update(hit.forms[0].ids)
                    else:
                        waiting.append(hit)
                        waiting_end = seg_end
                    continue
            else:
                ids = ()             # named and confirmed already: it still anchors a list
        found.update(ids)
        last_anchor = start
        if waiting:
            for item in waiting:
                found.update(item.forms[0].ids)
            waiting = []
    return found


def _segment_bounds(text: str, pos: int, floor: int = 0) -> tuple[int, int]:
    """The line or sentence around a position. Searching back stops at `floor` (where the previous
    segment ended), so that a scan over many segments reads each character a bounded number of times."""
    start = max(text.rfind("\n", floor, pos), _last_sentence_end(text, pos, floor), floor - 1) + 1
    end = _SEGMENT_END.search(text, pos)
    return start, end.end() if end else len(text) + 1


def _lower_same_length(text: str) -> str:
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)  # e.g. "İ" lowers to two


def _non_ask_spans(lowered: str) -> list[tuple[int, int]]:
    """Spans of the sentences about applying or perks, which name tools that are not asks."""
    if not _mentions_a_trigger(lowered):
        return []
    spans: list[tuple[int, int]] = []
    for m in _NOT_AN_ASK.finditer(lowered):
        floor = spans[-1][1] if spans else 0
        if m.start() < floor:
            continue  # inside the sentence blanked already
        start = max(lowered.rfind("\n", floor, m.start()), _last_sentence_end(lowered, m.start(), floor), floor - 1) + 1
        end = _SEGMENT_END.search(lowered, m.end())
        spans.append((start, end.end() if end else len(lowered)))
    return spans


def _mentions_a_trigger(lowered: str) -> bool:
    if accelerator.scan is not None and lowered.isascii():
        return accelerator.scan.contains_any(lowered, _NOT_AN_ASK_TRIGGERS)
    return any(trigger in lowered for trigger in _NOT_AN_ASK_TRIGGERS)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], " " * (end - start)]
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _last_sentence_end(text: str, pos: int, floor: int = 0) -> int:
    best = -1
    for mark in ". ", "! ", "? ", "; ":
        best = max(best, text.rfind(mark, floor, pos))
    return best


_VERDICTS: dict[tuple[int, str], "tuple[str, ...] | _Hit | bool"] = {}
_VERDICTS_SIZE = 10_000


def _verdict(start: int, end: int, text: str, cat: Catalog) -> "tuple[str, ...] | _Hit | bool":
    """What the text around a hit says: its ids (it counts), a list item (_Hit), or False."""
    hit = _resolve(start, end, text, cat)
    if hit is None:
        return False
    if hit.ids or _passes_alone(text, hit):
        return hit.ids or hit.forms[0].ids
    return hit if _in_a_list(text, hit) else False


def _resolve(start: int, end: int, text: str, cat: Catalog) -> "_Hit | None":
    """The forms a match can be; plain forms confirm it at once, ambiguous ones wait for context."""
    matched = " ".join(text[start:end].split())
    forms = cat.aliases[_key(matched)]
    after = text[end:end + 40]
    before = text[max(0, start - 40):start]
    exact = [f for f in forms if f.text == matched]
    for form in forms:
        if form.needs_context or (form.case_sensitive and form not in exact):
            continue
        if _blocked(form, before, after):
            return None
        return _Hit(start, form.ids)
    if _HYPHEN_AFTER.match(after) or _HYPHEN_BEFORE.search(before[-2:]):
        return None
    ambiguous = [f for f in forms if f.needs_context and not _blocked(f, before, after)]
    if not ambiguous:
        return None
    exact_forms = [f for f in ambiguous if f in exact]
    return _Hit(start, (), end, exact_forms or ambiguous, bool(exact_forms))


def _blocked(form: Alias, before: str, after: str) -> bool:
    return bool((form.blocked_after and form.blocked_after.match(after)) or
                (form.blocked_before and form.blocked_before.search(before)))


def _passes_alone(text: str, hit: _Hit) -> bool:
    """An ambiguous form counts alone with a cue after or before it (in the case shown), or after a
    field label."""
    before = text[max(0, hit.start - 30):hit.start]
    if ":" in before and _LABEL_BEFORE.search(text[max(0, hit.start - 60):hit.start]):
        return True
    return hit.exact_case and (_cue_after(text, hit, hit.forms[0]) or bool(_CUE_BEFORE.search(before)))


def _in_a_list(text: str, hit: _Hit) -> bool:
    return bool(_LIST_BEFORE.search(text[max(0, hit.start - 8):hit.start]) or
                _LIST_AFTER.match(text[hit.end:hit.end + 10]))


def _cue_after(text: str, hit: _Hit, form: Alias) -> bool:
    m = _NEXT_WORDS.match(text, hit.end, hit.end + 60)
    if not m:
        return False
    first = m.group(1).lower().rstrip(".,")
    two = f"{first} {(m.group(2) or '').lower().rstrip('.,')}".strip()
    return first in _CUES_AFTER or first in form.context_after or two in form.context_after
