"""Role and level buckets from a title (and a description), and the query filter.

Each bucket's signals are compiled into one alternation with a named group per bucket,
so a title is scanned once for roles and once for levels; the priority order below
then settles conflicts as the README's "Role and level buckets" section describes.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from .models import IngestionQuery, JobPosting, date_window
from .places import parse_place, place_contains, scope_covers
from .text import MAX_TITLE, to_plain_text

# Highest priority first. "other" first: customer-facing engineers and non-engineering jobs
# stay "other" whatever tech word their title carries.
_ROLE_SIGNALS: dict[str, str] = {
    "other": r"""
        (?:sales|solutions?|support|customer(?:\s+success)?|pre-?sales|field|forward[- ]deployed|
           implementation|integration\s+support|partner|technical\s+account|professional\s+services)
           \s+(?:engineer|engineering|architect|consultant|specialist)s?
      | technical\s+(?:writer|recruiter|sourcer|support|account)
      | developer\s+(?:advocate|relations|evangelist) | devrel
      | (?:product|project|program|programme|delivery|account|marketing|sales|office|store|
           finance|financial|hr|people|operations|property|restaurant|retail|brand|community|
           event|content|social\s+media|customer\s+success|success)\s+(?:manager|owner|director|lead|coordinator)
      | (?:business|financial|finance|marketing|credit|risk|policy|operations|hr|sales|pricing|
           investment|research|compliance|fraud|supply\s+chain)\s+analyst
      | (?:mechanical|civil|electrical|chemical|structural|process|manufacturing|hvac|maintenance|
           environmental|biomedical|industrial|petroleum|mining|geotechnical|nuclear|aerospace|
           automotive|construction|facilities|plant|production|quality\s+control|service|
           traffic|transportation|water|energy|packaging|mep|rf|analog|hardware|audio|sound|
           validation|project|site|design)\s+engineer(?:ing)?s?
      | landscape\s+architect | architectural | interior | chef | cook | nurse | driver | teacher
      | tutor | recruiter | recruiting | talent | accountant | accounting | bookkeeper | auditor
      | attorney | lawyer | counsel | paralegal | cashier | barista | sales | marketing | copywriter
      | writer | editor | designer | illustrator | animator | photographer | receptionist
      | assistant | coordinator | clerk | warehouse | technician | mechanic | electrician
      | plumber | physician | therapist | pharmacist | dentist | caregiver | consultant
      | account\s+executive | business\s+development | \bsdr\b | \bbdr\b | customer\s+service
      | customer\s+support | help\s*desk | service\s+desk | it\s+support | desktop\s+support
      | scrum\s+master | agile\s+coach | product\s+manag | \bcfo\b | \bcoo\b | \bcmo\b
      | specialist | representative | operator | administrative | \bhr\b | payroll | investor
      | security\s+(?:guard|officer) | data\s+cent(?:er|re)
    """,
    "fullstack": r"full[\s-]?stack",
    "ml": r"""
        machine[\s-]learning | \bml\b | \bmlops\b | \bai\b | a\.i\. | artificial\s+intelligence
      | data\s+scien | deep\s+learning | \bnlp\b | natural\s+language | computer\s+vision
      | applied\s+scien | research\s+scien | \bllm | generative | gen\s?ai | prompt\s+engineer
      | kecerdasan | cient[ií]fic[oa]\s+de\s+datos | ciencia\s+de\s+datos | ci[eê]ncia\s+de\s+dados
      | datenwissenschaft | perception | reinforcement | cientista\s+de\s+dados
    """,
    "data": r"""
        \bdata\b(?!\s+(?:entry|center|centre|protection|privacy))(?:\s+\w+)?\s*
           (?:engineer|engineering|analyst|architect|developer|platform|warehouse|modeler|
            specialist|infrastructure|integration|ops|lead|manager|team|pipelines?)
      | analytics | \bbi\b | business\s+intelligence | \betl\b | \belt\b | database\s+(?:developer|engineer|programmer)
      | big\s+data | data\s*-?\s*engineer | datenanalyst | dateningenieur | analista\s+de\s+datos
      | ingeniero\s+de\s+datos | engenheir[oa]\s+de\s+dados | analista\s+de\s+dados | data\s+analyst
      | \bsql\s+developer | tableau | power\s*bi | snowflake | \bdbt\b | reporting\s+(?:developer|analyst)
      | (?:head|director|vp|vice\s+president|chief)\s*(?:of|,)?\s+data\b(?!\s+scien) | chief\s+data\s+officer
      | de\s+(?:dados|datos|donn[ée]es)\b
    """,
    "security": r"""
        secur | cyber | \bappsec\b | penetration | pentest | \bsoc\b | infosec | \bciso\b | offensive
      | threat | vulnerabilit | red\s+team | blue\s+team | incident\s+respon | \biam\b | identity\s+(?:and|&)\s+access
      | cryptograph | malware | detection\s+engineer | sicherheit | seguridad | s[ée]curit[ée] | devsecops
      | \bciso\b | chief\s+information\s+security | seguran[cç]a | application\s+security
    """,
    "qa": r"""
        \bqa\b | \bq\.a\. | quality\s+assurance | \bsdet\b | \bset\b | test\s+automation | automation\s+test
      | tester | testing | quality\s+engineer | test\s+engineer | (?:engineer|developer)\s+in\s+test
      | \bqe\b | \bqc\b | \bsqa\b | testador | pruebas | testeur | qualit[aä]tssicherung | softwaretester
    """,
    "embedded": r"""
        embedded | firmware | \bfpga\b | \basic\b | \brtos\b | microcontroller | device\s+driver
      | kernel | low[\s-]level | bare[\s-]metal | eingebettete | embarcad | embarqu | embebid
    """,
    "devops": r"""
        dev\s*-?\s*ops | \bsre\b | site\s+reliability | reliability\s+engineer | platform
      | cloud | infrastructure | infra\b | \bdba\b | database\s+admin | release\s+engineer
      | build\s+engineer | systems?\s+(?:engineer|administrator|admin) | sysadmin | network\s+engineer
      | kubernetes | devsecops | observability | production\s+engineer | linux\s+engineer
      | administrador\s+de\s+sistemas | systemadministrator | ingeniero\s+cloud
      | administrateur\s+(?:syst[eè]mes?|r[ée]seaux?)
    """,
    "mobile": r"""
        \bios\b | android | mobile | react\s+native | flutter | swift | kotlin | xamarin | \bm[oó]vil\b
    """,
    "frontend": r"""
        front[\s-]?end | \bui\b(?!\s*/\s*ux\s+designer) | user\s+interface | react(?!\s+native)
      | angular | \bvue | svelte | next\.?js | javascript | typescript | web\s+developer | web\s+engineer
      | web\s+(?:designer\s+and\s+)?developer | \bcss\b | html | (?:d[ée]veloppeur(?:se)?|developer|engineer)\s+front\b
      | \(front\) | (?:d[ée]veloppeu(?:r|se)|desarrollador(?:a)?|desenvolvedor(?:a)?|entwickler)\s+web | web-?entwickler
    """,
    "backend": r"""
        back[\s-]?end | server[\s-]side | \bapi\b | \bapis\b | \bjava\b(?!script) | golang | \bgo\b\s+(?:developer|engineer)
      | python | \.net\b | \bc\#|\bc\s*sharp | \bruby\b | rails | \bphp\b | node\.?js | \bnode\b | scala
      | elixir | erlang | \brust\b | clojure | haskell | django | spring | laravel | microservices?
      | distributed\s+systems? | \bc\+\+ | \bcobol\b | mainframe | integration\s+(?:engineer|developer)
      | (?:d[ée]veloppeur(?:se)?|developer|engineer)\s+back\b | \(back\) | \bperl\b | \bkotlin\s+backend
      | payments?\s+engineer | \bbackend
    """,
    "general": r"""
        software | \bsoftware\b | developer | develop(?:e|)r | programmer | programador | programmierer
      | \bsde\b | \bswe\b | \bsde\s*-?\s*(?:i{1,3}|[1-5])\b | coder | coding | engineering\s+manager | \bcto\b
      | technical\s+staff | (?:head|director|vp|vice\s+president)\s+of\s+engineering | engineering\s+(?:lead|director)
      | engineer | ingenieur | ingeniero | ing[ée]nieur | engenheir | entwickler | desarrollador
      | d[ée]veloppeu | desenvolvedor | informatiker | fachinformatiker | softwareentwickl | anwendungsentwickl
      | tech\s+lead | architect | \bit\b | application
      | technologist | hacker | computer\s+scien | informatica | inform[aá]tic
      | chief\s+(?:technology|technical)\s+officer | ingenier[ií]a | d[ée]veloppement
    """,
}
ROLE_PRIORITY = tuple(_ROLE_SIGNALS)

_LEVEL_SIGNALS: dict[str, str] = {
    "intern": r"""
        intern\b | interns\b | internship | co-?op\b | working\s+student | werkstudent | apprentice
      | ausbildung | azubi | praktikum | praktikant | pr[aá]cticas | becari[oa] | \bstage\b | stagiaire
      | est[aá]gi | alternance | alternant | trainee | summer\s+(?:analyst|associate|student)
      | pasant[ií]a | pasante | student
    """,
    "entry": r"""
        junior | \bjr\b | j[uú]nior | entry[\s-]?level | new\s+grad | graduate | \bgrad\b
      | early[\s-]career | \bassociate\s+(?!director|manager|partner|vice|vp|principal|general\s+counsel|dean|professor)\w
      | berufseinsteiger | einsteiger | d[ée]butant | reci[ée]n\s+(?:egresado|graduado) | rec[ée]m[\s-]formado
      | \blevel\s+(?:i|1)\b | \bl[12]\b | 0\s*-\s*[12]\s+years
    """,
    "mid": r"""
        mid[\s-]?level | \bmid\b(?![\s-]*(?:market|size|sized|west|atlantic|town|day|year|cap|career))
      | middle(?!\s+(?:east|office|school|market|management|eastern))
      | intermediate | semi[\s-]?s[eê]nior | \bssr\b | mid[\s-]?weight | \bpleno\b | \blevel\s+(?:ii|2)\b | \bl[34]\b
      | experienced
    """,
    "senior": r"""
        senior | \bsr\b | s[eê]nior | \blevel\s+(?:iii|iv|v|[3-9])\b | \bl5\b | expert
    """,
    "lead": r"""
        \blead\b(?!\s+generation) | \bleads\b | tech\s+lead | team\s+lead | \bstaff\b(?!\s+(?:accountant|nurse|
            writer|attorney|pharmacist|auditor|assistant|physician|member|augmentation|accounting))
      | principal | distinguished | (?<!landscape\s)(?<!solutions\s)(?<!solution\s)(?<!interior\s)(?<!building\s)architect
      | \bfellow\b | \bl[6-9]\b | teamleiter | l[ií]der | leitend | architekt | arquitet[oa] | arquitect[oa]
    """,
    "manager": r"""
        manager | management | director | head\s+of | \bvp\b | \bciso\b | \bcdo\b | vice\s+president | \bcto\b | \bcio\b
      | \bchief\b | \bceo\b | gerente | jefe | leiter(?!in\s+des) | leiterin | responsable | gerente
      | directeur | diretor | coordenador | supervisor
    """,
}
LEVEL_RANK = {"intern": 0, "entry": 1, "mid": 2, "senior": 3, "lead": 4, "manager": 5}

# Ladders: "SDE II", "Software Engineer 2", "Engineer IV", "Developer I/II".
_LADDER = re.compile(
    r"(?<![a-z])(?:engineer|developer|sde|swe|analyst|scientist|programmer|administrator|architect|"
    r"specialist|tester|dba|consultant|entwickler|ingeniero|desarrollador)\s*-?\s*"
    r"((?:i{1,3}|iv|v|vi|[1-6])(?:\s*/\s*(?:i{1,3}|iv|v|vi|[1-6]))*)\b(?!\s*(?:\+|years|yrs|\.\d))"
)
_TRAILING_NUMERAL = re.compile(r"\s(ii|iii|iv|v)\s*(?:$|[-|(,])")
_LADDER_LEVEL = {"i": "entry", "1": "entry", "ii": "mid", "2": "mid"}
_MTS = re.compile(r"member\s+of\s+(?:the\s+)?technical\s+staff")
# Gender markers ("(m/w/d)", "F/M") and remote notes ("(Remote, US)") say nothing about role or level.
_NOISE = re.compile(r"\((?:[mwfdhx]\s*/\s*)+[mwfdhx]\)|\b[mwfh]\s*/\s*[mwfh](?:\s*/\s*[dx])?\b"
                    r"|\([^)]*remote[^)]*\)", re.I)


def _compile(signals: dict[str, str], *, long_text: bool = False) -> re.Pattern:
    """One pattern for all buckets over lower-cased text: scanned once, leftmost signal first.

    Signals start at a word start. For long text the character before is consumed rather than
    looked behind at, so the engine skips through words in C (6x faster on descriptions); such
    text must then start with a space.
    """
    alternatives = "|".join(f"(?P<{name}>{pattern})" for name, pattern in signals.items())
    return re.compile(rf"{'[^a-z0-9]' if long_text else '(?<![a-z0-9])'}(?:{alternatives})", re.X)


_ROLE_RE = _compile(_ROLE_SIGNALS)
_LEVEL_RE = _compile(_LEVEL_SIGNALS)


def _signals(pattern: re.Pattern, text: str) -> set[str]:
    return {m.lastgroup for m in pattern.finditer(text)}


def _clean_title(title: str, company: str | None = None) -> str:
    """The title lower-cased, without gender and remote notes, and without the posting's own
    company name ("Scale AI - Director of Communications"), which is never evidence of a role."""
    title = (title or "")[:MAX_TITLE].lower()
    if ("/" in title or "remote" in title):
        title = _NOISE.sub(" ", title)
    name = " ".join((company or "").lower().split())
    if len(name) > 1 and name in title:
        rest = re.sub(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", " ", title)
        title = rest if rest.strip(" -|:,") else title
    return title


def classify_role(title: str, description: str = "", company: str | None = None) -> str:
    """One role bucket. The title decides; the description only refines `general`."""
    return _role(_clean_title(title, company), to_plain_text(description))


# A title is segments: "Acme - Senior Software Engineer, Payments Platform (Remote)". The head
# segment is the first that names a job (engineer, manager, Entwickler, desarrollador, ...):
# segments before it name the company or team, segments after it qualify it.
_BREAK = re.compile(r"\s+[-/]\s+|\s*[|:,;()\[\]–—]\s*|\s+@\s+|\s+at\s+")
_HEAD = re.compile(r"""
    (?<![a-z])(?P<noun>engineer(?:s|ing)?|developer|programmer|architect|scientist|analyst|administrator
      |tester|designer|manager|director|head\s+of|lead|officer|recruiter|writer|coordinator|assistant
      |specialist|counsel|partner|executive|representative|technician|consultant|producer|accountant
      |guard|advocate|owner|president|vp|chief|cto|sre|sdet|dba|staff|researcher)(?![a-z])
  | (?<![a-z])(?P<romance>programador|desarrollador(?:a)?|ingenier[oa]|ing[ée]nieur|d[ée]veloppeu(?:r|se)
      |desenvolvedor(?:a)?|engenheir[oa]|analista|cientista|cient[ií]fic[oa]|arquitect[oa]|arquitet[oa]
      |architecte|administrat(?:eur|or)|administrador|testeur|gerente|l[ií]der|responsable|chef|charg[ée]
      |comptable|vendedor|contador|ejecutivo|assistente|jefe|diretor|directeur|coordenador)(?![a-z])
  | (?P<compound>[a-z]*(?:entwickler|ingenieur|informatiker|architekt|administrator|analyst|tester))(?![a-z])
""", re.X)
_OF = re.compile(r"\s+(?:of|de|du|des|da|do)\b")
# A language or framework after a general title ("Software Engineer - C++") is not a specialty.
_LANGUAGES = frozenset("""python java golang go c++ c# .net ruby rails php node node.js nodejs typescript
    javascript kotlin swift scala rust elixir erlang clojure haskell perl cobol react angular vue django
    spring laravel flutter""".split())
_FILLER = frozenset("team teams engineering engineer engineers systems system group squad org organization "
                    "department & and".split())
_GOES_WITH_ITS_NOUN = frozenset(("platform", "infrastructure", "infra"))
# Head nouns that take their domain from what follows: "Head of Data", "Manager, Data Platform".
_MANAGING = re.compile(r"manager|director|head\s+of|lead|vp|chief|president|officer|owner")
# Qualifiers that name a specialty on their own only after a general title ("Software Engineer, Web").
_QUALIFIER_WORDS = {"web": "frontend", "front": "frontend", "back": "backend", "server": "backend",
                    "quality": "qa", "reliability": "devops", "data": "data", "datos": "data", "dados": "data"}


class _Signal(NamedTuple):
    """A role signal in a title segment: its bucket, where it runs, and its words."""

    bucket: str
    start: int
    end: int
    text: str


def _segments(cleaned: str) -> list[str]:
    return [part.strip(" -/") for part in _BREAK.split(cleaned) if part.strip(" -/")]


def _matches(segment: str) -> list[_Signal]:
    """Every role signal of a segment, overlapping ones too; a signal ends where its word ends."""
    found = []
    m = _ROLE_RE.search(segment)
    while m:
        start = m.start(m.lastgroup)
        end = m.end()
        while end < len(segment) and segment[end].isalnum():
            end += 1
        found.append(_Signal(m.lastgroup, start, end, segment[start:end]))
        # Go on from the next word start, not past the match: "data backend engineer" holds "backend".
        m = _ROLE_RE.search(segment, start + 1)
    return [signal for signal in found if not _inside_a_specialty(signal, found)]


def _inside_a_specialty(signal: _Signal, found: list[_Signal]) -> bool:
    """An `other` word inside a longer specialty signal is part of it ("data warehouse engineer")."""
    return signal.bucket == "other" and any(
        o.bucket != "other" and o.start <= signal.start and signal.end <= o.end and o != signal for o in found)


def _with_its_noun(specialties: list[_Signal], segment: str) -> list[_Signal]:
    """"Platform goes with its noun": Data Platform is data, ML Platform ml, Mobile Platform mobile."""
    kept: list[_Signal] = []
    for signal in specialties:
        before = kept[-1] if kept else None
        if signal.text not in _GOES_WITH_ITS_NOUN or before is None:
            kept.append(signal)
        elif before.end > signal.start:
            continue  # inside a longer signal that already names the noun ("data infrastructure")
        elif before.bucket != "devops" and not segment[before.end:signal.start].strip():
            kept[-1] = _Signal(before.bucket, before.start, signal.end, segment[before.start:signal.end])
        else:
            kept.append(signal)
    return kept


def _head_role(segment: str) -> str | None:
    """The role a job-naming segment gives: the specialty nearest its head noun. English and German
    put it before the noun; the Romance languages after ("Ingeniero de Datos"), as do "Head of"
    and the other managing nouns ("Tech Lead Backend")."""
    matches = _matches(segment)
    buckets = {m.bucket for m in matches}
    for decisive in ("other", "fullstack"):
        if decisive in buckets:
            return decisive
    heads = list(_HEAD.finditer(segment))
    if not heads:  # a bare domain ("Information Security" after "Director,")
        return next((bucket for bucket in ROLE_PRIORITY if bucket in buckets), None)
    head = next((h for h in heads if h.lastgroup == "romance"), heads[-1])
    follows = head.lastgroup == "romance" or bool(_MANAGING.fullmatch(head.group())) \
        or bool(_OF.match(segment, head.end()))
    specialties = _with_its_noun([m for m in matches if m.bucket != "general"], segment)
    if not follows:
        specialties = [m for m in specialties if m.start < head.end()]
    # A signal that holds the head noun ("systems engineer", "tester") yields to a modifier before
    # it ("Embedded Systems Engineer", "Penetration Tester"); a language to an area ("Embedded C++").
    modifiers = specialties if follows else [m for m in specialties if m.end <= head.start()]
    areas = [m for m in (modifiers or specialties) if m.text not in _LANGUAGES]
    specialties = areas or modifiers or specialties
    if not specialties:
        return "general" if "general" in buckets else None
    if follows:
        return min(specialties, key=lambda m: m.start).bucket
    return max(specialties, key=lambda m: m.start).bucket


def _suffix_role(segment: str) -> str | None:
    """The specialty a qualifier names outright ("Backend", "Machine Learning", "Data Platform"); a
    team or product name ("Payments Platform", "Cloud Storage") and a language name none."""
    words = segment.split()
    while words and words[-1] in _FILLER:
        words.pop()
    core_end = len(" ".join(words))
    if " ".join(words) in _QUALIFIER_WORDS:
        return _QUALIFIER_WORDS[" ".join(words)]
    specialties = [m for m in _matches(segment) if m.bucket not in ("general", "other") and m.text not in _LANGUAGES]
    specialties = _with_its_noun(specialties, segment)
    if not specialties or specialties[-1].end < core_end:
        return None  # the qualifier goes on past its last specialty word: a product name
    last = specialties[-1]
    if last.text == "platform" and last.start > 0:
        return None  # "Payments Platform": a team
    return last.bucket


def _head_index(segments: list[str]) -> int | None:
    return next((i for i, segment in enumerate(segments) if _HEAD.search(segment)), None)


def _role(cleaned: str, plain: str) -> str:
    role = _title_role(cleaned)
    if role == "general" and plain:
        return _role_from_description(plain) or "general"
    return role


# Job boards repeat titles ("Software Engineer" thousands of times), so the title's part is cached.
@lru_cache(maxsize=16384)
def _title_role(cleaned: str) -> str:
    segments = _segments(cleaned)
    head = _head_index(segments)
    if head is None:
        role = _bag_role(cleaned)
    else:
        role = _head_role(segments[head])
        if role is None and head + 1 < len(segments) and _MANAGING.search(segments[head]):
            role = _head_role(segments[head + 1])  # "VP, Data Engineering": the domain comes next
        role = role or "other"
        if role == "general":
            role = next(filter(None, map(_suffix_role, segments[head + 1:])), "general")
    return role


def _bag_role(cleaned: str) -> str:
    """A title that names no job noun ("Machine Learning Intern"): its signals by priority."""
    found = _signals(_ROLE_RE, cleaned)
    if "other" in found:
        return "other"
    return next((bucket for bucket in ROLE_PRIORITY[1:] if bucket in found), "other")


# Cues start at a word start (the pattern sees to that), so none opens with a `\b`: an alternative
# that opens with a letter lets the engine reject it at once.
_DESCRIPTION_CUES = {
    "fullstack": r"full[\s-]?stack",
    "frontend": r"front[\s-]?end|react(?!\s+native)|vue|angular|css\b|user\s+interfaces?|ui\b|browser",
    "backend": r"back[\s-]?end|server[\s-]side|apis?\b|microservices?|distributed\s+systems|databases?",
    "mobile": r"ios\b|android|mobile\s+app|react\s+native|flutter|swiftui|kotlin",
    "data": r"data\s+pipelines?|etl\b|data\s+warehous|airflow|dbt\b|spark|data\s+modell?ing",
    "ml": r"machine\s+learning|ml\b|deep\s+learning|pytorch|tensorflow|llms?\b|model\s+training",
    "devops": r"kubernetes|terraform|infrastructure\s+as\s+code|sre\b|ci/cd\s+pipelines|on-?call",
    "qa": r"test\s+automation|selenium|cypress|test\s+plans|qa\b",
    "security": r"vulnerabilit|penetration|threat\s+model|security\s+engineering",
    "embedded": r"firmware|embedded|rtos\b|microcontroller",
}
_DESCRIPTION_RE = _compile(_DESCRIPTION_CUES, long_text=True)
# The same alternatives without the named groups, which would hide each one's first letter from
# the engine: this scans, and _DESCRIPTION_RE then names the bucket of each (rare) hit.
_DESCRIPTION_SCAN = re.compile(rf"[^a-z0-9](?:{'|'.join(_DESCRIPTION_CUES.values())})", re.X)


def _role_from_description(plain: str) -> str | None:
    counts: dict[str, int] = {}
    text = " " + plain.lower()
    for hit in _DESCRIPTION_SCAN.finditer(text):
        bucket = _DESCRIPTION_RE.match(text, hit.start()).lastgroup
        counts[bucket] = counts.get(bucket, 0) + 1
    front, back = counts.get("frontend", 0), counts.get("backend", 0)
    if counts.get("fullstack", 0) or (min(front, back) >= 2 and min(front, back) * 2 >= max(front, back)):
        return "fullstack"  # named outright, or both ends in balance
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < 2:
        return None
    if len(ranked) > 1 and ranked[1][1] * 2 > ranked[0][1]:
        return None
    return ranked[0][0]


def classify_level(title: str, description: str = "", company: str | None = None) -> str:
    """One level bucket: title signals first (higher rank wins), then years of experience."""
    return _level(_clean_title(title, company), to_plain_text(description))


def _level(cleaned: str, plain: str) -> str:
    level = _title_level(cleaned)
    if level != "unknown":
        return level
    years = _years_in(plain)
    if years is None:
        return "unknown"
    return "entry" if years <= 2 else "mid" if years <= 4 else "senior"


@lru_cache(maxsize=16384)
def _title_level(cleaned: str) -> str:
    if "technical staff" in cleaned:
        cleaned = _MTS.sub(" ", cleaned)
    segments = _segments(cleaned)
    head = _head_index(segments)
    found = set()
    for index, segment in enumerate(segments):
        signals = _signals(_LEVEL_RE, segment)
        if head is not None and index != head:
            signals.discard("manager")  # "..., Cloud Security Posture Management" names a product
        found |= signals
    steps = [step for m in _LADDER.finditer(cleaned) for step in re.split(r"\s*/\s*", m.group(1))]
    steps += [m.group(1) for m in _TRAILING_NUMERAL.finditer(cleaned)]
    found.update(_LADDER_LEVEL.get(step, "senior") for step in steps)
    if found:
        ranked = max((b for b in found if b != "intern"), key=LEVEL_RANK.__getitem__, default="intern")
        if "intern" in found and LEVEL_RANK[ranked] <= LEVEL_RANK["entry"]:
            return "intern"
        return ranked
    return "unknown"


# Starts with an ASCII digit (`[0-9][0-9]?`: the engine cannot use `\d{1,2}` as a prefix, and checks
# ASCII faster), so the scan jumps from digit to digit; the character before the number is checked in _years_in (not
# "112 years", not "2.5 years").
_YEARS = re.compile(
    r"([0-9][0-9]?)(?:\s*(?:-|–|to|bis|a)\s*\d{1,2})?\s*\+?\s*"
    r"(?:years?|yrs?|jahre|años|anos|ans)\b"
    r"(?:\s+(?:of|de|d'|an)\b)?(?:[\s,'’]+[\w/+#.-]+){0,5}?[\s,'’]+"
    r"(?:experience|exp\b|berufserfahrung|erfahrung|experiencia|experiência|exp[ée]rience)",
    re.I,
)


def required_years(description: str) -> int | None:
    """The years of experience a description asks for (the largest lower bound), if any."""
    return _years_in(to_plain_text(description))


def _years_in(plain: str) -> int | None:
    found = [int(m.group(1)) for m in _YEARS.finditer(plain)
             if not (m.start() and (plain[m.start() - 1].isdigit() or plain[m.start() - 1] == "."))] if plain else []
    found = [n for n in found if n <= 20]
    return max(found) if found else None


def classify(title: str, description: str = "", *, company: str | None = None,
             prepared: bool = False) -> tuple[str, str]:
    """(role_bucket, level_bucket) of a posting; `prepared` says the description is plain text already."""
    cleaned = _clean_title(title, company)
    plain = description if prepared else to_plain_text(description)
    return _role(cleaned, plain), _level(cleaned, plain)


def matches_query(posting: JobPosting, query: IngestionQuery, today: date | None = None) -> bool:
    """True when a classified posting answers the query (role, level, window, location, remote).

    A posting without a date is kept: the source gave none, and the API filtered on its own dates.
    """
    if query.role != "any" and posting.role_bucket != query.role:
        return False
    if query.level != "any" and posting.level_bucket != query.level:
        return False
    if posting.date_posted and posting.date_posted < date_window(query.days, today)[0]:
        return False
    return matches_location(posting, query.location, query.remote)


def matches_location(posting: JobPosting, location: str | None, remote_mode: str = "include") -> bool:
    place = parse_place(location)
    is_remote = posting.remote is True
    if remote_mode == "only" and not is_remote:
        return False
    if remote_mode == "exclude" and is_remote:
        return False
    if place is None:
        return True
    if place.remote_only and not is_remote:
        return False
    inside = place_contains(place, *posting.places[0], posting.latitude, posting.longitude) \
        or any(place_contains(place, *where) for where in posting.more_places)
    if not is_remote:
        return inside
    if not (place.countries or place.region or place.city):
        return True
    return inside or scope_covers(posting.remote_scope, place.countries)
