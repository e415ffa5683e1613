"""Skill extraction: one compiled, prefix-factored pattern over every catalog alias.

The catalog (data/skills.json) is hand-curated package data. `extract_skills` makes a single
pass over the prepared text; context checks for ambiguous forms ("Go", "Spring", "R") run
on those hits only. Rules: skills.md sections 3 and 4.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from .text import to_plain_text

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
    pattern: re.Pattern = field(repr=False)


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
    return Catalog(skills, aliases, _compile(aliases))


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

def _compile(aliases: dict[str, list[Alias]]) -> re.Pattern:
    """A regex trie of every alias: branches share prefixes, longer forms are tried first."""
    trie: dict = {}
    for key in aliases:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}
    body = _trie_regex(trie)
    # Boundaries (skills.md 4.1): no letter, digit, _ or hashtag before; none of those, nor + or #,
    # after; a "." followed by a letter continues the token ("Node" never inside "Node.js").
    return re.compile(rf"(?<![\w#@$])(?<!\w\.)(?:{body})(?![\w+#])(?!\.\w)", re.I)


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
_GLOBAL_BLOCK_AFTER = re.compile(r"\s+(?:ventures|capital|park|stadium|arena|tower|foundation)\b", re.I)
_SEGMENT_END = re.compile(r"\n|[.!?;](?=\s)")
# Sentences about applying or perks name tools (Word, GitHub, Windows) that are not asks.
_NOT_AN_ASK = re.compile(
    r"\b(?:to\s+apply|how\s+to\s+apply|apply\s+(?:now|here|today|via|through|by|at|online)|"
    r"send\s+(?:us\s+)?(?:your|a)\s+(?:r[ée]sum[ée]|cv|application)|r[ée]sum[ée]|cover\s+letter|"
    r"laptop|macbook|equipment|perks?|stipend|home\s+office|your\s+(?:github|gitlab|portfolio)\s+profile|"
    r"link\s+(?:to\s+)?your|pick\s+your|choice\s+of\s+(?:laptop|hardware|os|operating))", re.I)


@dataclass
class _Hit:
    start: int
    end: int
    matched: str
    forms: list[Alias]
    ids: tuple[str, ...] = ()
    exact_case: bool = True


def extract_skills(title: str | None, description: str | None = "", *, prepared: bool = False) -> list[str]:
    """Sorted canonical skill ids named in a posting's title and description."""
    text = f"{title or ''}\n{description or ''}" if prepared else \
        f"{to_plain_text(title)}\n{to_plain_text(description)}"
    return sorted(_ids(text, catalog()))


def _ids(text: str, cat: Catalog) -> set[str]:
    confirmed: list[_Hit] = []
    pending: list[_Hit] = []
    for m in cat.pattern.finditer(text):
        hit = _resolve(m, text, cat)
        if hit is None:
            continue
        (pending if not hit.ids else confirmed).append(hit)
    segments = _Segments(text) if (pending or confirmed) else None
    if pending:
        _settle_ambiguous(text, pending, confirmed, segments)
    found: set[str] = set()
    for hit in confirmed:
        if not segments.not_an_ask(hit.start):
            found.update(hit.ids)
    return found


def _resolve(m: re.Match, text: str, cat: Catalog) -> _Hit | None:
    """The forms a match can be; plain forms confirm it at once, ambiguous ones wait for context."""
    matched = m.group()
    forms = cat.aliases[_key(matched)]
    start, end = m.span()
    after = text[end:end + 40]
    if _GLOBAL_BLOCK_AFTER.match(after):
        return None
    exact = [f for f in forms if f.text == " ".join(matched.split())]
    for form in forms:
        if form.needs_context:
            continue
        if form.case_sensitive and form not in exact:
            continue
        if form.blocked_after and form.blocked_after.match(after):
            return None
        if form.blocked_before and form.blocked_before.search(text[max(0, start - 40):start]):
            return None
        return _Hit(start, end, matched, [form], form.ids)
    ambiguous = [f for f in forms if f.needs_context]
    if not ambiguous:
        return None
    if _HYPHEN_AFTER.match(after) or _HYPHEN_BEFORE.search(text[max(0, start - 2):start]):
        return None
    before = text[max(0, start - 40):start]
    ambiguous = [f for f in ambiguous if not (f.blocked_after and f.blocked_after.match(after))
                 and not (f.blocked_before and f.blocked_before.search(before))]
    if not ambiguous:
        return None
    exact_forms = [f for f in ambiguous if f in exact]
    return _Hit(start, end, matched, exact_forms or ambiguous, exact_case=bool(exact_forms))


def _settle_ambiguous(text: str, pending: list[_Hit], confirmed: list[_Hit], segments: "_Segments") -> None:
    """skills.md 4.3: a cue after or before (exact case), a field label, or a list with a confirmed hit."""
    listy = []
    for hit in pending:
        form = hit.forms[0]
        before = text[max(0, hit.start - 60):hit.start]
        if _LABEL_BEFORE.search(before) or (hit.exact_case and (_cue_after(text, hit, form) or _CUE_BEFORE.search(before))):
            hit.ids = form.ids
            confirmed.append(hit)
        elif _LIST_BEFORE.search(before) or _LIST_AFTER.match(text[hit.end:hit.end + 10]):
            listy.append(hit)
    changed = True
    while listy and changed:
        changed = False
        for hit in list(listy):
            if any(segments.same(hit.start, other.start) for other in confirmed):
                hit.ids = hit.forms[0].ids
                confirmed.append(hit)
                listy.remove(hit)
                changed = True


def _cue_after(text: str, hit: _Hit, form: Alias) -> bool:
    m = _NEXT_WORDS.match(text, hit.end, hit.end + 60)
    if not m:
        return False
    first = m.group(1).lower().rstrip(".,")
    two = f"{first} {(m.group(2) or '').lower().rstrip('.,')}".strip()
    return first in _CUES_AFTER or first in form.context_after or two in form.context_after


class _Segments:
    """Lines and sentences of a text, for "same list" and "not an ask" tests."""

    def __init__(self, text: str):
        self.text = text
        self.ends = [m.end() for m in _SEGMENT_END.finditer(text)] + [len(text) + 1]
        self._asks: dict[int, bool] = {}

    def index(self, pos: int) -> int:
        lo, hi = 0, len(self.ends) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.ends[mid] <= pos:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def same(self, a: int, b: int) -> bool:
        return self.index(a) == self.index(b)

    def not_an_ask(self, pos: int) -> bool:
        i = self.index(pos)
        if i not in self._asks:
            start = self.ends[i - 1] if i else 0
            self._asks[i] = bool(_NOT_AN_ASK.search(self.text, start, self.ends[i]))
        return self._asks[i]
