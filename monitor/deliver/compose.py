"""What a batch of deliveries says: their articles as Items, grouped into messages, headed.

Reads: delivery rows and, from storage, their articles, their stories and each story's
outlets. Writes: nothing; returns Messages (monitor/deliver/render.py does the escaping).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from monitor.config import Config
from monitor.deliver.render import Item, Message, render_digest, render_single
from storage import deliveries, stories
from storage.db import Database
from storage.deliveries import DeliveryRow
from storage.stories import story_key


def items(db: Database, rows: list[DeliveryRow]) -> dict[int, Item]:
    """Article id → what its alert shows (title, link, date, sectors, why, other outlets)."""
    with db.read() as conn:
        data = deliveries.items_for(conn, [r.article_id for r in rows])
        story = stories.stories_of(conn, list(data))
        outlets: dict[str, list[str]] = {
            story_key(s): names
            for s, names in stories.outlets_of(conn, [s for s, _ in story.values()]).items()
        }
        outlets.update(
            deliveries.story_outlets(
                conn, [d.fingerprint for i, d in data.items() if d.fingerprint and i not in story]
            )
        )
    why = {r.article_id: r.why for r in rows}
    keys = {
        i: story_key(story[i][0]) if i in story else (d.fingerprint or f"article-{i}")
        for i, d in data.items()
    }
    return {
        article_id: Item(
            source_name=d.source_name,
            title=d.title,
            url=d.url,
            published_at=d.published_at,
            sectors=d.sectors,
            why=list(why.get(article_id, [])),
            summary=d.summary or d.text[:500],
            other_outlets=[o for o in outlets.get(keys[article_id], []) if o != d.source_name],
            story=keys[article_id],
        )
        for article_id, d in data.items()
    }


def batches(mode: str, rows: list[DeliveryRow], fold_threshold: int) -> list[list[DeliveryRow]]:
    """Digests and floods (more than fold_threshold at once) become one message."""
    if mode == "digest" or len(rows) > fold_threshold:
        return [rows]
    return [[row] for row in rows]


def message(
    config: Config, batch: list[DeliveryRow], found: dict[int, Item], tz: ZoneInfo, mode: str
) -> Message:
    """One message for a batch: the article itself, or a digest headed by what it holds."""
    topic = config.topic
    if len(batch) == 1 and mode == "immediate":
        row = batch[0]
        return render_single(found[row.article_id], tz, f"delivery-{row.id}", topic.name)
    first, last = batch[0].id, batch[-1].id
    listed = unique_stories([found[r.article_id] for r in batch])
    if mode == "followup":
        outlets = list(dict.fromkeys(found[r.article_id].source_name for r in batch))
        heading = f"Also reported by {', '.join(outlets)}: {listed[0].title}"
        if len(listed) > 1:
            heading = f"Also reported by {', '.join(outlets)}: {len(listed)} stories"
        return render_digest(listed, tz, f"followup-{first}-{last}-{len(batch)}", heading,
                             topic.name)  # fmt: skip
    headings = {
        "digest": f"Digest: {topic.stories(len(listed))}",
        # --notify-digest of `monitor backfill`: past coverage, said so up front.
        "backfill": f"Backfill: {topic.stories(len(listed), 'past')} match your rules",
    }
    heading = headings.get(mode, topic.matches(len(listed)))
    key = f"batch-{first}-{last}-{len(batch)}"
    return render_digest(listed, tz, key, heading, topic.name)


def unique_stories(found: list[Item]) -> list[Item]:
    """A story carried by several outlets is listed once, naming every outlet: one entry per
    story id (or, for articles stored before stories, per title and opening)."""
    seen: dict[tuple[str, str], Item] = {}
    for item in found:
        if item.story.startswith("story-"):
            key = (item.story, "")
        else:
            key = (item.title.lower(), item.summary[:200].lower())
        seen.setdefault(key, item)
    return list(seen.values())
