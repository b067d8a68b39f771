"""Server settings read once from environment variables."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ner.commands import positive_int as _int
from ner.commands import positive_seconds as _seconds

MIB = 1024 * 1024
#: the names a loopback-bound server answers to by default (a DNS-rebinding page sends its own name)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass(frozen=True)
class Settings:
    """Limits and addresses of one server process (see the docstring of ``app.py`` and SECURITY.md for each variable)."""

    model: str | None = None
    threads: int | None = None
    max_chars: int = 100_000
    max_texts: int = 64
    #: characters of all texts of one REST request (or one Gradio call) together
    max_request_chars: int = 200_000
    #: bytes of one REST answer
    max_response_bytes: int = 16 * MIB
    queue_size: int = 64
    #: recognitions at once; one client holds at most engine_slots - 1 of them, so with 3 two clients' long
    #: texts (a turn never cuts a text) still leave a slot for a third client's short request (issue 26)
    engine_slots: int = 3
    #: characters one engine turn takes before the next waiting request gets its turn
    engine_chunk_chars: int = 20_000
    max_body_bytes: int = 8 * MIB
    #: bytes of an over-limit body read and dropped so the client can read its 413 (more: closed unread)
    discard_bytes: int = 32 * MIB
    #: bytes of one uploaded file (Gradio's max_file_size)
    max_upload_bytes: int = 8 * 100_000
    #: seconds a client may take to send its request headers, and then its body
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    #: seconds the server waits for open requests after SIGTERM before it cancels them
    shutdown_timeout_s: float = 2.0
    #: seconds an upload or a download stays on disk; bytes all of them may take together
    file_ttl_s: int = 600
    cache_max_bytes: int = 256 * MIB
    #: origins whose pages may read the API's answers (CORS); none by default
    cors_origins: tuple[str, ...] = ()
    #: who may frame the page (CSP frame-ancestors): "'self'", "'none'" or a list of origins
    frame_ancestors: str = "'self'"
    #: a user dictionary file the operator names (NER_USER_DICT), applied to every request
    user_dict: str | None = None
    #: entries, and characters, of one visitor's (page) or one request's (REST) own dictionary
    max_dict_entries: int = 1000
    max_dict_chars: int = 50_000
    #: the page recognizes while typing ("实时侦测") only for texts up to this many characters
    live_max_chars: int = 3000
    #: serve the recognizer as an MCP tool at /gradio_api/mcp/ (NER_MCP=0 turns it off)
    mcp: bool = True
    host: str = "127.0.0.1"
    port: int = 7860
    # --- the app factory (ner_app.create_app) ---
    #: where the app makes its own folder for uploads and downloads (GRADIO_TEMP_DIR; default: the system's)
    temp_dir: str | None = None
    #: directories NER_MODEL may point into besides models/ and the cache (NER_MODEL_ROOTS, os.pathsep-separated)
    model_roots: tuple[str, ...] = ()
    #: where ModelScope models are downloaded and exported (NER_CACHE; default ~/.cache/ner)
    model_cache: str | None = None

    # --- one client cannot hurt the others (issue 26; SECURITY.md "Per client") ------------------------
    #: requests in flight, and event streams open, per client address; and in all
    client_max_requests: int = 16
    #: (gradio_client opens a stream per job and keeps it a while: 8 busy clients of one address held over 16)
    client_max_streams: int = 64
    max_requests: int = 256
    max_streams: int = 512
    #: MCP tool calls in flight per client: they wait their turn at the engine holding no thread and no slot
    #: (ner_app.roads.ToolTurns), so an agent's burst is answered, not refused; in all, ToolTurns' own bound
    client_max_tool_calls: int = 128
    #: seconds an event stream (heartbeat, queue data, /call result) stays open before the server ends it
    stream_max_s: float = 3600.0
    #: bytes of uploads and downloads one client address may hold in the file cache; files in the cache,
    #: and files in one upload request
    client_cache_bytes: int = 64 * MIB
    cache_max_files: int = 10_000
    upload_max_files: int = 10
    #: addresses of the reverse proxies whose X-Forwarded-For/-Proto/-Host are believed ("*": any peer)
    trusted_proxies: tuple[str, ...] = ()
    #: Host names the server answers to (TrustedHostMiddleware patterns; "*": any); empty: see allowed_host_names
    allowed_hosts: tuple[str, ...] = ()
    #: page sessions: seconds a session lives after its last event, and after its tab closed; sessions in all
    session_ttl_s: float = 1800.0
    session_closed_ttl_s: float = 10.0
    max_sessions: int = 2000
    #: seconds between hand-backs of glibc's free heap pages to the system (ner_app.memory); 0: never
    malloc_trim_s: float = 60.0

    def allowed_host_names(self) -> tuple[str, ...]:
        """The Host allow-list: ``allowed_hosts``, else the loopback names when bound to loopback, else any."""
        if self.allowed_hosts:
            return self.allowed_hosts
        if self.host in LOOPBACK_HOSTS:
            return LOOPBACK_HOSTS
        return ("*",)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Settings from ``env``; raises ``ValueError`` naming the variable when a value is not usable."""
        max_chars = _int(env, "NER_MAX_CHARS", cls.max_chars)
        # JSON may escape every CJK character as \uXXXX (6 bytes): one maximal text must always fit
        body_floor = 6 * max_chars + 64 * 1024
        max_request_chars = _int(env, "NER_MAX_REQUEST_CHARS", max(cls.max_request_chars, max_chars))
        if max_request_chars < max_chars:
            raise ValueError(f"NER_MAX_REQUEST_CHARS={max_request_chars} is below NER_MAX_CHARS={max_chars}: "
                             f"one text of the largest allowed size must fit in a request")
        return cls(
            model=env.get("NER_MODEL") or None,
            threads=_int(env, "NER_THREADS", 0) or None,
            max_chars=max_chars,
            max_texts=_int(env, "NER_MAX_TEXTS", cls.max_texts),
            max_request_chars=max_request_chars,
            max_response_bytes=_int(env, "NER_MAX_RESPONSE_BYTES", cls.max_response_bytes),
            queue_size=_int(env, "NER_QUEUE_SIZE", cls.queue_size),
            engine_slots=_int(env, "NER_ENGINE_SLOTS", cls.engine_slots),
            engine_chunk_chars=_int(env, "NER_ENGINE_CHUNK_CHARS", cls.engine_chunk_chars),
            max_body_bytes=max(_int(env, "NER_MAX_BODY_BYTES", cls.max_body_bytes), body_floor),
            discard_bytes=_int(env, "NER_DISCARD_BYTES", cls.discard_bytes),
            max_upload_bytes=_int(env, "NER_MAX_UPLOAD_BYTES", 8 * max_chars),
            header_timeout_s=_seconds(env, "NER_HEADER_TIMEOUT", cls.header_timeout_s),
            body_timeout_s=_seconds(env, "NER_BODY_TIMEOUT", cls.body_timeout_s),
            shutdown_timeout_s=_seconds(env, "NER_SHUTDOWN_TIMEOUT", cls.shutdown_timeout_s),
            file_ttl_s=_int(env, "NER_FILE_TTL", cls.file_ttl_s),
            cache_max_bytes=_int(env, "NER_CACHE_MAX_BYTES", cls.cache_max_bytes),
            cors_origins=_origins(env, "NER_CORS_ORIGINS"),
            frame_ancestors=_frame_ancestors(env, "NER_FRAME_ANCESTORS", cls.frame_ancestors),
            user_dict=env.get("NER_USER_DICT") or None,
            max_dict_entries=_int(env, "NER_MAX_DICT_ENTRIES", cls.max_dict_entries),
            max_dict_chars=_int(env, "NER_MAX_DICT_CHARS", cls.max_dict_chars),
            live_max_chars=_int(env, "NER_LIVE_MAX_CHARS", cls.live_max_chars),
            mcp=_flag(env, "NER_MCP", cls.mcp),
            host=env.get("GRADIO_SERVER_NAME") or cls.host,
            port=_int(env, "GRADIO_SERVER_PORT", cls.port),
            temp_dir=env.get("GRADIO_TEMP_DIR") or None,
            model_roots=tuple(p for p in env.get("NER_MODEL_ROOTS", "").split(os.pathsep) if p.strip()),
            model_cache=env.get("NER_CACHE") or None,
            **_edge_settings(env),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={raw!r} is not a switch; set it to 1 or 0, or unset it")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """``"https://a.example, https://b.example"`` -> both; each must be ``scheme://host[:port]``."""
    origins = tuple(o.strip().rstrip("/") for o in env.get(name, "").split(",") if o.strip())
    for origin in origins:
        if origin == "*" or "://" not in origin or origin.count("/") != 2:
            raise ValueError(f"{name}: {origin!r} is not an origin like https://app.example.com "
                             f"(scheme://host[:port], no path, no '*')")
    return origins


def _frame_ancestors(env: Mapping[str, str], name: str, default: str) -> str:
    """A CSP ``frame-ancestors`` source list: ``'self'``, ``'none'`` or origins such as ``https://*.example.com``."""
    value = " ".join(env.get(name, "").split()) or default
    if not re.fullmatch(r"[A-Za-z0-9 '.:/*_-]+", value):
        raise ValueError(f"{name}={value!r} is not a source list like 'self', 'none' or https://studio.example.com")
    return value


def _edge_settings(env: Mapping[str, str]) -> dict:
    """The per-client bounds, proxies, hosts and sessions of issue 26 (SECURITY.md, "Per client")."""
    d = Settings
    return dict(
        client_max_requests=_int(env, "NER_CLIENT_MAX_REQUESTS", d.client_max_requests),
        client_max_streams=_int(env, "NER_CLIENT_MAX_STREAMS", d.client_max_streams),
        max_requests=_int(env, "NER_MAX_REQUESTS", d.max_requests),
        max_streams=_int(env, "NER_MAX_STREAMS", d.max_streams),
        client_max_tool_calls=_int(env, "NER_CLIENT_MAX_TOOL_CALLS", d.client_max_tool_calls),
        stream_max_s=_seconds(env, "NER_STREAM_MAX_SECONDS", d.stream_max_s),
        client_cache_bytes=_int(env, "NER_CLIENT_CACHE_BYTES", d.client_cache_bytes),
        cache_max_files=_int(env, "NER_CACHE_MAX_FILES", d.cache_max_files),
        upload_max_files=_int(env, "NER_UPLOAD_MAX_FILES", d.upload_max_files),
        trusted_proxies=_names(env, "NER_TRUSTED_PROXIES"),
        allowed_hosts=_names(env, "NER_ALLOWED_HOSTS"),
        session_ttl_s=_seconds(env, "NER_SESSION_TTL", d.session_ttl_s),
        session_closed_ttl_s=_seconds(env, "NER_SESSION_CLOSED_TTL", d.session_closed_ttl_s),
        max_sessions=_int(env, "NER_MAX_SESSIONS", d.max_sessions),
        malloc_trim_s=_seconds_or_off(env, "NER_MALLOC_TRIM_S", d.malloc_trim_s),
    )


def _seconds_or_off(env: Mapping[str, str], name: str, default: float) -> float:
    """Seconds above 0, or ``0`` for off."""
    if env.get(name, "").strip() in ("0", "0.0"):
        return 0.0
    try:
        return _seconds(env, name, default)
    except ValueError:
        raise ValueError(f"{name}={env.get(name)!r} is not a number of seconds; set it to e.g. 60, to 0 to turn "
                         f"it off, or unset it") from None


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """``"a.example, 10.0.0.0/8"`` -> both (addresses, networks or host names; ``*`` for any)."""
    names = tuple(n.strip() for n in env.get(name, "").split(",") if n.strip())
    for n in names:
        if not re.fullmatch(r"[A-Za-z0-9.:/*_\[\]-]+", n):
            raise ValueError(f"{name}: {n!r} is not an address, network or host name (comma-separated)")
    return names
