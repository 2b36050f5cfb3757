"""Story clustering: does a stored article report an event already open as a story, or start one?

Reads: an Article's title, summary and opening text; the open stories held in memory (OpenStories,
filled from storage/stories.py). Writes: nothing; returns the decision with its evidence.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from monitor.article import Article

OPENING_CHARS = 1500  # a rewrite shares its facts up front; ORF's long tail would only dilute
# A designation ("H3", "Chandrayaan-5", "E10", "JIMEX-26") names a thing; it is not a figure.
_TOKEN = re.compile(
    r"(?P<designation>[A-Za-z]+[\-–]?\d+[A-Za-z]*\b)"
    r"|(?P<word>[A-Za-z][A-Za-z'’\-–]*[A-Za-z])|(?P<number>\d+(?:[.,]\d+)*)"
)
_YEAR = re.compile(r"^(19|20)\d\d$")
# Capitalised, but naming no actor: titles, months, days, and words that open headlines.
_GENERIC = """prime minister ministers president pm mr ms mrs dr chief secretary foreign external
    affairs ministry government cabinet official officials spokesperson the a an this that
    these those it its in on at of for and or but with by from as to after before during
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday today yesterday new said says
    also however meanwhile read more news live update analysis opinion commentary editorial
    minister's ministerial joint statement national international world asia asia-pacific
    he she they we his her their our i you"""
GENERIC_NAMES = frozenset(_GENERIC.split())
_STOPWORDS = """the and for that with from this have has had was were are been being will would
    could should shall may might must can not but its their there here which who whom whose
    what when where why how all any both each few more most other some such than too very
    into onto over under about above below between through during before after again further
    then once also said says say told his her hers him she they them our ours your yours
    one two three first last new year years week weeks day days month months time times
    on in at of to by as or an a is be it we i he if so no up out off do did does done
    upon while amid among per via like just even only well back still however whether
    according"""
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True, slots=True)
class Features:
    """What survives a rewrite: named actors and places, figures, content words, the sector."""

    published: float  # POSIX seconds
    names: frozenset[str]
    numbers: frozenset[str]
    words: frozenset[str]
    sector: str | None
    copy: str = ""  # title-and-opening fingerprint: an outlet reprinting a wire copy
    headline_numbers: tuple[str, ...] = ()  # the figures of the title, in order: its news

    def to_json(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "names": sorted(self.names),
            "numbers": sorted(self.numbers),
            "words": sorted(self.words),
            "sector": self.sector,
            "copy": self.copy,
            "headline_numbers": list(self.headline_numbers),
        }

    @classmethod
    def of_json(cls, data: dict[str, Any]) -> Features:
        return cls(
            published=float(data["published"]),
            names=frozenset(data["names"]),
            numbers=frozenset(data["numbers"]),
            words=frozenset(data["words"]),
            sector=data.get("sector"),
            copy=str(data.get("copy", "")),
            headline_numbers=tuple(data.get("headline_numbers", ())),
        )


def common_names(
    names: Iterable[str], bilateral: Iterable[str] = (), sides: Iterable[str] = ()
) -> frozenset[str]:
    """Names every article on the topic carries (feeds.yaml `stories.common_names`, and the
    one-word bilateral terms such as "India-Japan"): they say nothing about which event an
    article reports. A longer bilateral term ("Mumbai-Ahmedabad High Speed Rail") names one."""
    out = set(GENERIC_NAMES)
    one_word = [t for t in bilateral if " " not in t.strip()]
    for term in [*names, *one_word]:
        out.update(_norm(t) for t in re.split(r"[\s\-–]+", term) if t)
    # The words of the topic's longer side terms ("Maritime Self-Defense Force", "Reserve Bank
    # of India") are its institutions' boilerplate; a word that is a term on its own ("Modi",
    # "Mumbai") still names an actor.
    listed = [t.strip() for t in sides]
    alone = {_norm(t) for t in listed if not re.search(r"[\s\-–]", t)}
    for term in listed:
        words = [_norm(w) for w in re.split(r"[\s\-–]+", term.rstrip("*")) if w]
        if len(words) > 1:
            out.update(w for w in words if w not in alone)
    return frozenset(out)


def _norm(token: str) -> str:
    token = token.lower().replace("’", "'")
    return token[:-2] if token.endswith("'s") else token.rstrip("'")


def features(article: Article, common: frozenset[str]) -> Features:
    """The article's features, from its title, summary and the opening of its text."""
    body = article.summary if len(article.summary) >= len(article.text) else article.text
    names = _Names(common)
    numbers: set[str] = set()
    title_numbers: list[str] = []
    words: set[str] = set()
    title_case = _title_cased(article.title)
    for text, headline in ((article.title, True), (body[:OPENING_CHARS], False)):
        end = 0
        for match in _TOKEN.finditer(text):
            raw, kind, start = match.group(), match.lastgroup, match.start()
            if start != end + 1 or text[end] != " ":
                names.flush()  # a name runs over single spaces only: "Sanae Takaichi"
            end = match.end()
            if kind == "word" and raw[0].islower() and raw.isalpha():  # most tokens: be quick
                if names.run or names.caps:
                    names.flush()
                if len(raw) >= 3 and raw not in STOPWORDS:
                    words.add(raw[:6])  # a crude stem: "agreement"/"agreements" meet
                continue
            if kind == "designation":
                names.flush()
                names.names.add(_DASH.sub("", raw.lower()))
                continue
            if kind == "number":
                names.flush()
                number = raw.replace(",", "")
                if not _YEAR.match(number):  # every article carries this year's date
                    numbers.add(number)
                    if headline:
                        title_numbers.append(number)
                continue
            parts = [p for p in _DASH.split(raw) if p]
            for part in parts:
                lower = _norm(part)
                if len(lower) >= 3 and lower not in STOPWORDS:
                    words.add(lower[:6])
            if not raw[0].isupper():
                names.flush()
                continue
            # "Modi Holds Talks In Tokyo": capitals say nothing; "JAXA" or "ISRO" always do
            acronym = len(raw) > 1 and raw.isupper()
            loose = headline and title_case and not acronym
            initial = loose or (not acronym and _opens_sentence(text, start))
            if len(parts) > 1:  # "Takaichi–Modi", "Mumbai-Ahmedabad": each part names its own
                names.flush()
                for part in parts:
                    names.take(_norm(part), initial, loose)
                    names.flush()
            else:
                names.take(_norm(raw), initial, loose)
        names.flush()
    sector = article.relevance_reason.get("primary_sector")
    return Features(
        published=article.published_at.timestamp(),
        names=names.counted(),
        numbers=frozenset(numbers),
        words=frozenset(words),
        sector=sector if isinstance(sector, str) else None,
        copy=article.fingerprint,
        headline_numbers=tuple(title_numbers),
    )


_DASH = re.compile(r"[\-–]")
_OPENERS = frozenset('.!?:;"“”‘([')


def _opens_sentence(text: str, at: int) -> bool:
    i = at - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return i < 0 or text[i] in _OPENERS


class _Names:
    """Runs of capitalised words, each counted by its last word ("Narendra Modi" → modi), so a
    leader is one name whether or not the outlet gives the first name; a run of three or more
    also by its initials, as outlets alternate between the two ("Comprehensive Economic
    Partnership Agreement" → cepa, "Japan International Cooperation Agency" → jica)."""

    def __init__(self, common: frozenset[str]) -> None:
        self.common = common
        self.names: set[str] = set()
        self.starts: set[str] = set()  # capitalised where any word would be: counted if seen
        self.run: list[str] = []
        self.initial = self.loose = False
        self.caps: list[str] = []  # initials of the capitalised words in a row, common ones too
        self.titled = False  # the row holds a person's title: a name, not an organisation

    def take(self, lower: str, initial: bool, loose: bool) -> None:
        if lower in _TITLES:
            self.titled = True  # "Prime Minister Sanae Takaichi" is no "pmst"
        if not loose and lower not in _ARTICLES:
            self.caps.append(lower[0])
        if lower in self.common or len(lower) < 2:
            self._end_run()  # "Prime Minister Narendra Modi": the title is not part of the name
            return
        if not self.run:
            self.initial, self.loose = initial, loose
        self.run.append(lower)

    def flush(self) -> None:
        self._end_run()
        if len(self.caps) >= 3 and not self.titled:
            self.names.add("".join(self.caps))
        self.caps, self.titled = [], False

    def _end_run(self) -> None:
        if self.run:
            unsure = self.loose or (self.initial and len(self.run) == 1)
            (self.starts if unsure else self.names).add(self.run[-1])
            self.run = []

    def counted(self) -> frozenset[str]:
        """The names; a capitalised word only ever seen where any word is capitalised is not."""
        return frozenset(self.names)


_ARTICLES = frozenset(("the", "a", "an"))
_TITLE_WORDS = """prime minister president pm mr ms mrs dr chief secretary spokesperson chairman
governor ambassador emperor king queen general admiral raksha mantri"""
_TITLES = frozenset(_TITLE_WORDS.split())


def _title_cased(title: str) -> bool:
    """A headline In Title Case capitalises every word: its capitals name nothing."""
    letters = [w for w in title.split() if w[:1].isalpha() and len(w) > 3]
    return len(letters) >= 3 and sum(w[0].isupper() for w in letters) / len(letters) > 0.6


def _cosine(a: frozenset[str], b: frozenset[str], shared: int) -> float:
    return shared / math.sqrt(len(a) * len(b)) if a and b else 0.0


@dataclass(frozen=True)
class Settings:
    """The clustering setting (feeds.yaml `stories`): how far apart, how alike."""

    window: timedelta = timedelta(hours=48)
    join_at: float = 0.42  # score at or above which an article joins a story
    thread_at: float = 0.22  # below join_at, at or above this: a new development of the thread
    min_names: int = 2  # shared names needed to join (a figure or a high similarity counts too)


@dataclass(frozen=True)
class Evidence:
    """Why an article joined a story, or started one (against its closest open story)."""

    story: int | None  # the story compared with (None: no open story shared a name)
    score: float = 0.0
    similarity: float = 0.0
    names: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    same_sector: bool = False
    hours: float = 0.0
    joined: bool = False
    thread: bool = False  # not the same event, but close enough to be its thread

    def text(self, own: int | None = None) -> str:
        """'joined story 42: same names modi, takaichi; 3 h apart; similarity 0.61'."""
        if self.story is None:
            return f"started story {own}: no open story shares a name" if own else "new story"
        what = f"joined story {self.story}" if self.joined else f"started story {own}"
        parts = [f"same names {', '.join(self.names)}" if self.names else "no shared names"]
        if self.numbers:
            parts.append(f"same figures {', '.join(self.numbers)}")
        if self.same_sector:
            parts.append("same sector")
        parts.append(f"{self.hours:.0f} h apart")
        parts.append(f"similarity {self.similarity:.2f}")
        parts.append(f"score {self.score:.2f}")
        if not self.joined:
            closest = "same thread as" if self.thread else "closest"
            parts.insert(0, f"{closest} story {self.story}")
        return f"{what}: " + "; ".join(parts)

    def to_json(self, own: int | None = None) -> dict[str, Any]:
        return {
            "text": self.text(own),
            "compared_with": self.story,
            "joined": self.joined,
            "thread": self.thread,
            "score": round(self.score, 3),
            "similarity": round(self.similarity, 3),
            "names": list(self.names),
            "numbers": list(self.numbers),
            "same_sector": self.same_sector,
            "hours": round(self.hours, 1),
        }


def compare(a: Features, b: Features, story: int, settings: Settings) -> Evidence:
    """The evidence that two articles report one event; joined when it is strong enough."""
    names = a.names & b.names
    numbers = a.numbers & b.numbers
    shared_words = len(a.words & b.words)
    similarity = _cosine(a.words, b.words, shared_words)
    # Four shared names are strong evidence however many others each report adds.
    name_overlap = max(_cosine(a.names, b.names, len(names)), min(1.0, len(names) / 4))
    same_sector = a.sector is not None and a.sector == b.sector
    hours = abs(a.published - b.published) / 3600
    score = (
        0.5 * similarity
        + 0.3 * name_overlap
        + 0.1 * same_sector
        + 0.1 * min(1.0, len(numbers) / 2)
        - 0.05 * hours / max(1.0, settings.window.total_seconds() / 3600)
    )
    # Figures on both sides and none shared: two phases, two deals, or a market wrap's prices.
    conflict = bool(a.numbers and b.numbers and not numbers)
    score -= 0.1 * conflict
    copy = bool(a.copy) and a.copy == b.copy
    if copy:
        score, similarity = max(score, 1.0), 1.0
    # Headlines that both lead with a figure, and different ones: another loan, another deal.
    other_news = bool(
        a.headline_numbers
        and b.headline_numbers
        and not set(a.headline_numbers) & set(b.headline_numbers)
    )
    enough = (
        copy
        or (not other_news and len(names) >= settings.min_names)
        or (
            not conflict
            and not other_news
            and (
                # one name, and a figure, the same words, or the same sector in similar words
                bool(
                    names and (numbers or similarity >= 0.5 or (same_sector and similarity >= 0.33))
                )
                # a headline of common names only: the same words, enough of them to tell, and
                # the same figures in the title, in order ("part 0-1" is not "part 1-0")
                or (
                    similarity >= 0.7
                    and shared_words >= 8
                    and a.headline_numbers == b.headline_numbers
                )
            )
        )
    )
    joined = bool(enough) and score >= settings.join_at
    return Evidence(
        story=story, score=score, similarity=similarity, names=tuple(sorted(names)),
        numbers=tuple(sorted(numbers)), same_sector=same_sector, hours=hours, joined=joined,
        thread=not joined and len(names) >= settings.min_names and score >= settings.thread_at,
    )  # fmt: skip


@dataclass
class _Story:
    id: int
    anchor: float  # publication time of its first article: a story spans at most one window
    members: list[Features] = field(default_factory=list)
    thread: int = 0


class OpenStories:
    """The stories an article may still join, in memory, indexed by the names they carry.

    Filled from storage and kept to a span of publication times (`cover`); the caller adds
    every decision back (`add`) so the next article of the batch sees it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stories: dict[int, _Story] = {}
        self.by_name: dict[str, set[int]] = {}
        self.by_copy: dict[str, set[int]] = {}
        self.recent: list[int] = []  # story ids, oldest first
        self.low = math.inf  # the span of publication times whose stories are all here
        self.high = -math.inf
        self.watermark = 0  # the highest article id whose decision is here

    def covers(self, low: float, high: float) -> bool:
        return self.low <= low and high <= self.high

    def reset(self, low: float, high: float) -> None:
        self.stories.clear()
        self.by_name.clear()
        self.by_copy.clear()
        self.recent.clear()
        self.low, self.high, self.watermark = low, high, 0

    def evict(self, before: float) -> None:
        """Forget the stories whose window closed before `before`: no article joins them."""
        gone = {sid for sid, story in self.stories.items() if story.anchor < before}
        for sid in gone:
            entry = self.stories.pop(sid)
            for member in entry.members:
                for name in member.names:
                    self.by_name.get(name, set()).discard(sid)
                if member.copy:
                    self.by_copy.get(member.copy, set()).discard(sid)
        self.by_name = {name: ids for name, ids in self.by_name.items() if ids}
        self.recent = [sid for sid in self.recent if sid not in gone]
        self.low = max(self.low, before)

    def add(self, story: int, thread: int, anchor: float, member: Features) -> None:
        entry = self.stories.get(story)
        if entry is None:
            entry = self.stories[story] = _Story(story, anchor, thread=thread)
            self.recent.append(story)
        entry.members.append(member)
        for name in member.names:
            self.by_name.setdefault(name, set()).add(story)
        if member.copy:
            self.by_copy.setdefault(member.copy, set()).add(story)

    def thread_of(self, story: int) -> int:
        entry = self.stories.get(story)
        return entry.thread if entry is not None else story

    def anchor_of(self, story: int) -> float:
        entry = self.stories.get(story)
        return entry.anchor if entry is not None else 0.0

    def candidates(self, article: Features) -> set[int]:
        """The open stories worth comparing: those sharing two names with the article, or one
        name few stories carry (a leader named in every third story is no lead on its own),
        or its very text; an article with fewer than two names looks at the latest stories."""
        postings = [self.by_name[n] for n in article.names if n in self.by_name]
        counts = Counter(itertools.chain.from_iterable(postings))
        found = {story for story, shared in counts.items() if shared >= self.settings.min_names}
        for posting in postings:
            if len(posting) <= RARE_NAME_STORIES:
                found |= posting
        found |= self.by_copy.get(article.copy, set()) if article.copy else set()
        if len(article.names) < self.settings.min_names:
            found.update(self.recent[-NAMELESS_LOOKBACK:])
        return found

    def decide(self, article: Features) -> Evidence:
        """The open story the article reports, or the closest one it does not."""
        window = self.settings.window.total_seconds()
        best = Evidence(story=None)
        for story_id in self.candidates(article):
            story = self.stories[story_id]
            if abs(article.published - story.anchor) > window:
                continue
            for member in story.members:
                evidence = compare(article, member, story_id, self.settings)
                if (evidence.joined, evidence.score) > (best.joined, best.score):
                    best = evidence
        return best


# A name carried by more open stories than this is no lead on its own (it still counts as
# evidence); an article with fewer than two names is compared with this many latest stories.
RARE_NAME_STORIES = 50
NAMELESS_LOOKBACK = 300


class Clusterer:
    """Compiled once from the config (App.stories): the setting, the beat's common names, and
    the open stories of this process (storage/stories.py assign() keeps them current)."""

    def __init__(self, settings: Settings, common: frozenset[str]) -> None:
        self.settings = settings
        self.common = common
        self.index = OpenStories(settings)
        self.lock = threading.Lock()  # ingest runs in worker threads; PostgreSQL has no one writer

    def features(self, article: Article) -> Features:
        return features(article, self.common)
