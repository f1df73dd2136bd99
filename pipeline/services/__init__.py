"""One module per noun; one function per unit of work. Celery tasks, the CLI and the demo
all call these, so every entry point does the same thing.

The flow, top-down:

- ``polling``: a beat tick claims due feeds (``refresh_due_feeds``); ``refresh_feed(id)``
  makes a conditional GET, parses the bytes and upserts the entries; ``poll_feed_now`` is
  the whole path for one feed, synchronously (the CLI's ``poll``).
- ``articles``: ``fetch_article(id)`` gets the page (or falls back to the feed's text);
  ``process_article(id)`` cleans, extracts and matches, and stores the article, its tags,
  its story and its alerts in one transaction; ``relay_stuck_articles`` re-enqueues lost work.
- ``alerting``: the compiled matcher, story assignment and "one alert per rule and story"
  (called by ``process_article`` inside its transaction).
- ``delivery``: claim, sign, send and record one outbox row; relays, replay, the endpoint's
  health and its signing secrets.
- ``digests``: one message per hourly/daily rule and channel when its period closes.
- ``catalog``: feeds and rules: add, list, remove, and the sync of the config files.
- ``reports``: read-only views (alerts, stories), backtests, ``rules test`` and ``extract``.

Each function reads what it needs by id, commits its own transaction(s) and returns the
ids of follow-up work, which the caller enqueues only after the commit. Nothing here is
imported eagerly: a CLI command imports only the module it uses.
"""
