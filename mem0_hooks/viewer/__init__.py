"""``mem0-hooks ui``: a local web viewer of what memory holds and what it told Claude.

``server`` binds 127.0.0.1, picks a free port and runs the app; ``app`` is the ASGI app and the guard
in front of it (token, cookie, host, origin); ``pages`` renders HTML from plain data, escaping every
value (``markup``); ``store_view`` reads projects, sessions and memories from any store.
"""
