"""AI 智能实体侦测服务: a Gradio page and a JSON REST API for Chinese NER (PER, LOC, ORG) on one server.

Run ``python app.py`` and open http://127.0.0.1:7860.  Routes:

* ``/``                the page; Gradio client endpoints ``/recognize`` (text -> HighlightedText value)
                       and ``/extract`` (text -> ``{"entities": [...]}``), batched up to 16 requests
* ``POST /api/v1/ner`` ``{"text": "..."}`` -> ``{"entities": [...]}``;
                       ``{"texts": [...]}`` -> ``{"results": [{"entities": [...]}, ...]}``
* ``GET /healthz``     ``{"status": "ok", "model": name}``;  ``/docs``: the REST API's OpenAPI page

Environment variables:

* ``NER_MODEL``           a model directory (inside models/, the cache, or $NER_MODEL_ROOTS) or a ModelScope id
                          such as damo/nlp_raner_named-entity-recognition_chinese-base-news, exported to ONNX
                          on first start and cached (default: the embedded model, models/zh-ner-lite)
* ``NER_MODEL_ROOTS``     extra directories (os.pathsep-separated) that NER_MODEL may point into
* ``NER_CACHE``           where ModelScope models are downloaded and exported (default ~/.cache/ner)
* ``NER_THREADS``         ONNX Runtime intra-op threads (default: the cores, at most 4)
* ``NER_MAX_CHARS``       most characters per text (default 100000); longer texts are refused, never cut
* ``NER_MAX_TEXTS``       most texts per REST batch request (default 64)
* ``NER_QUEUE_SIZE``      most requests waiting in the Gradio queue, and REST requests in flight (default 64)
* ``NER_ENGINE_SLOTS``    recognitions running at once; the rest wait (default 2: one call already uses every core)
* ``NER_MAX_BODY_BYTES``  largest request body (default 8 MiB, at least what one maximal text needs)
* ``GRADIO_SERVER_NAME``  address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
* ``GRADIO_SERVER_PORT``  port (default 7860)

The limits that keep one client from taking the server (request and answer sizes,
header/body/shutdown timeouts, the upload cache, CORS and framing) are listed with
their settings in SECURITY.md.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import gradio as gr

import ner
from ner import samples
from ner_app import view
from ner_app.i18n import TABLE_HEADERS, TYPE_NAMES_EN, localized, t, translations
from ner_app.config import Settings
from ner_app.files import FileArea, UploadsOnlyBlocks
from ner_app.guard import Guard
from ner_app.model_source import load_engine
from ner_app.inputs import api_text, as_sent, describe, entities_json, json_tool_results
from ner_app.rest import create_api, swagger_ui_folder
from ner_app.http_server import bind, serve
from ner_app.service import NerService, Prefs

log = logging.getLogger(__name__)

TITLE = "AI 智能实体侦测服务"
TITLE_EN = "AI Named-Entity Detection"
CSS_PATH = Path(__file__).resolve().parent / "assets" / "style.css"
DOCS_CSS_PATH = CSS_PATH.with_name("docs.css")
#: the page's script: Gradio's toast titles in Chinese, and the page strings Gradio leaves untranslated
JS_PATH = Path(__file__).resolve().parent / "assets" / "page.js"
HIGHLIGHT_ID = "highlight"
EXAMPLES = [[text] for text in samples.PAGE_EXAMPLES]  # sentences the shipped model gets right
EXAMPLE_LABELS = [t(f"example_{k}") for k in range(len(EXAMPLES))]
DOWNLOADS = ["json", "csv", *(key for key, _, _ in view.ANNOTATION_FORMATS)]
#: on a narrow screen the result column is below the input: bring it into view when a run starts
SCROLL_TO_RESULT = """(...args) => {
    if (window.innerWidth < 800) document.getElementById('result')?.scrollIntoView({behavior: 'smooth'});
    return args;
}"""
#: what the API panel ("通过 API 使用") says of each client endpoint; the REST API is the other way in
REST_NOTE = ("The same recognizer is a JSON REST API on this server: POST /api/v1/ner with {\"text\": \"...\"} "
             "or {\"texts\": [...]} (plus optional dictionary, min_score, types, offsets); see /docs.")
API_NOTE = {"recognize": "Find the people, places and organizations in a Chinese text; returns the text cut into "
                         "tokens, each with its entity type or null. " + REST_NOTE,
            "extract": "Find the people (PER), places (LOC) and organizations (ORG) in a Chinese text; returns "
                       "{\"entities\": [{\"text\", \"type\", \"start\", \"end\", \"score\", \"source\"}]} with "
                       "text == input[start:end]. " + REST_NOTE}
THEME = gr.themes.Base(primary_hue="cyan", secondary_hue="pink", neutral_hue="slate",
                       font=["system-ui", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "sans-serif"],
                       font_mono=["ui-monospace", "Consolas", "monospace"])


def load_service(settings: Settings, files: FileArea | None = None) -> NerService:
    """Load the engine once (:func:`ner_app.model_source.load_engine`, as every Ray Serve replica does)."""
    gate, notice = load_engine(settings)
    return NerService(gate, settings, notice=notice, files=files)


def build_demo(service: NerService | None = None) -> gr.Blocks:
    """The page, wired to ``service`` (loaded from the environment when None); nothing is launched."""
    service = service or load_service(Settings.from_env())
    ttl = service.settings.file_ttl_s
    # Gradio deletes its uploads and copies once they are older than the time-to-live
    with UploadsOnlyBlocks(title=TITLE, delete_cache=(min(ttl, 60), ttl)) as demo:
        gr.HTML(view.header_html(TITLE, service.model_name, service.colors, service.notice, service.names,
                                 title_en=TITLE_EN))
        prefs = gr.State(Prefs())  # this visitor's dictionary and filters: per browser tab, never shared
        shown = gr.State(None)  # the last result before the filters
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                text = gr.Textbox(label=t("input_label"), lines=8, max_lines=20, elem_id="input-text",
                                  placeholder=t("input_placeholder"))
                with gr.Row(equal_height=True):
                    live = gr.Checkbox(label=t("live"), value=False, elem_id="live", scale=2)
                    run = gr.Button(t("run"), variant="primary", elem_id="run", scale=3)
                upload = gr.File(label=t("upload_label"), file_types=[".txt"], type="filepath", height=150,
                                 elem_id="upload")
                with gr.Accordion(t("dictionary"), open=False, elem_id="dictionary"):
                    dict_text = gr.Textbox(label=t("dictionary_label"), lines=5, max_lines=15,
                                           elem_id="dictionary-text", placeholder=t("dictionary_placeholder"))
                    apply_dict = gr.Button(t("apply_dictionary"), size="sm", elem_id="apply-dictionary")
                    gr.Markdown(t("dictionary_hint"), elem_classes="hint")
                examples = gr.Examples(EXAMPLES, inputs=text, example_labels=EXAMPLE_LABELS, label=t("examples"),
                                       elem_id="examples")
            with gr.Column(scale=1, min_width=300, elem_id="result"):
                counts = gr.HTML(view.counts_html(dict.fromkeys(service.types, 0), service.colors, service.names),
                                 elem_id="counts")
                with gr.Row(elem_id="downloads"):
                    downloads = [gr.DownloadButton(t(f"download_{key}"), size="sm", elem_id=f"download-{key}",
                                                   variant="secondary")
                                 for key in DOWNLOADS]
                with gr.Row(elem_id="filters"):
                    min_score = gr.Slider(0, 1, value=0, step=0.05, label=t("min_score"), elem_id="min-score",
                                          min_width=160)
                    types = gr.CheckboxGroup([(t(f"type_{k}"), k) for k in service.types], value=service.types,
                                             label=t("types"), elem_id="types", min_width=160)
                # the legend is the counts row above (each type's colour, name and code)
                highlight = gr.HighlightedText(label=t("highlight"), color_map=service.colors, show_legend=False,
                                               combine_adjacent=False, elem_id=HIGHLIGHT_ID)
                table = gr.Dataframe(headers=[t(f"column_{k}") for k in range(len(view.TABLE_HEADERS))],
                                     label=t("table"), interactive=False, elem_id="entity-table", wrap=True,
                                     max_height=420)

        shown_outputs = [highlight, table, counts, *downloads]
        page_outputs = [*shown_outputs, shown]
        # the button: on a phone the result is below the input, so the page scrolls to it
        run.click(localized(service.analyze_page), [text, prefs], page_outputs, api_name="analyze",
                  api_visibility="undocumented", js=SCROLL_TO_RESULT).failure(localized(service.cleared), None, page_outputs, api_visibility="private")
        # the validator refuses a bad file reference when the request arrives (HTTP 400), not later in the queue
        upload.upload(localized(service.analyze_file), [upload, prefs], [text, *page_outputs], api_name="analyze_file",
                      api_visibility="undocumented", validator=service.validate_upload_event,
                      js=SCROLL_TO_RESULT).failure(localized(service.cleared), None, page_outputs, api_visibility="private")
        # 实时侦测: .change, not .input (Gradio fires .input only for keys that type a character, not for text an
        # IME inserts); only the newest text is answered, and a text already shown (an upload's) is not redone
        # outside the queue (a plain POST each, no event stream): the engine gate still takes one text at a time
        # per slot, and a live text is at most NER_LIVE_MAX_CHARS long
        text.change(localized(service.analyze_live), [text, live, prefs, shown], page_outputs, trigger_mode="always_last",
                    show_progress="hidden", api_visibility="private", queue=False)
        examples.load_input_event.then(localized(service.analyze_page), [text, prefs], page_outputs, api_visibility="private",
                                       js=SCROLL_TO_RESULT).failure(localized(service.cleared), None, page_outputs, api_visibility="private")
        # filters redraw the last result without the model
        for trigger in (min_score.change, types.change):
            trigger(localized(service.set_filters), [min_score, types, prefs, shown], [prefs, *shown_outputs],
                    api_visibility="private", show_progress="hidden", trigger_mode="always_last")
        apply_dict.click(localized(service.set_dictionary), [dict_text, prefs], prefs,
                         api_visibility="private").success(localized(service.rerun), [prefs, shown], page_outputs,
                                                           api_visibility="private")

        # Client API (and MCP tools): hidden, typed inputs; concurrent calls are batched into one engine call,
        # and as many batches run at once as the engine gate has slots (Gradio's default is one per event)
        text_input = api_text("text", f"the Chinese text: one string of at most {service.settings.max_chars} characters")
        api_min_score = describe(as_sent(gr.Slider(0, 1, value=0, label="min_score", visible=False)),
                                 "keep entities whose score is at least this (0 to 1)")
        api_types = describe(gr.Dropdown(service.types, value=None, multiselect=True, allow_custom_value=True,
                                         label="types", visible=False), "keep only these types (default: all)")
        api_offsets = describe(gr.Dropdown(list(view.OFFSET_MODES), value="code-points", allow_custom_value=True,
                                           label="offsets", visible=False),
                               "code-points (Python indices) or utf16 (JavaScript indices: an emoji counts 2)")
        api_recognize, api_extract = gr.Button(visible=False), gr.Button(visible=False)
        api_recognize.click(service.highlight_entities, [text_input, api_min_score, api_types],
                            gr.HighlightedText(label="highlighted text", color_map=service.colors, visible=False),
                            api_name="recognize", batch=True, max_batch_size=16, validator=service.validate_batch,
                            api_description=API_NOTE["recognize"], concurrency_limit=service.settings.engine_slots)
        api_extract.click(service.extract_entities, [text_input, api_min_score, api_types, api_offsets],
                          entities_json("entities"), api_name="extract", batch=True,
                          max_batch_size=16, validator=service.validate_batch, api_description=API_NOTE["extract"],
                          concurrency_limit=service.settings.engine_slots)
    demo.bound(service.settings, service.files)  # issue 26: sessions, queue per client, uploads
    demo.queue(max_size=service.settings.queue_size)
    return demo


def create_app(service: NerService):
    """The REST API with the Gradio page mounted at ``/`` (the REST routes are matched first)."""
    api = create_api(service.rec, service.settings, notice=service.notice, docs_assets=swagger_ui_folder(),
                     docs_css=DOCS_CSS_PATH.read_text(encoding="utf-8"))
    demo = build_demo(service)
    strings = page_strings(service)
    app = gr.mount_gradio_app(api, demo, path="/", theme=THEME, css_paths=[CSS_PATH],
                              css=view.highlight_css(service.colors, HIGHLIGHT_ID), show_error=False,
                              max_file_size=service.settings.max_upload_bytes, footer_links=["api"],
                              run_history=False, mcp_server=mcp_enabled(service.settings),
                              i18n=strings,
                              js=page_js(strings))
    # mount_gradio_app never marks the app launched, and Gradio skips its own check that a file named
    # in a request lies in its upload folder for an app that has not launched
    demo.has_launched = True
    json_tool_results(demo)  # MCP tool results as JSON text, not Python's repr
    return app


def page_js(strings: gr.I18n) -> str:
    """The page's script (assets/page.js, a function of the page strings) called with ``strings``."""
    return (f"() => ({JS_PATH.read_text(encoding='utf-8').strip()})"
            f"({json.dumps(strings.translations_dict, ensure_ascii=False)})")


def page_strings(service: NerService) -> gr.I18n:
    """The page's strings in Chinese and English, with those made from the model and the settings: the live
    limit, each type's name, the dictionary hint."""
    live_max = service.settings.live_max_chars
    names_en = {k: TYPE_NAMES_EN.get(k) or k for k in service.types}
    extra = {
        "live": (f"实时侦测（边输入边识别，{live_max:,} 字以内）", f"Live (recognize while typing, up to {live_max:,} characters)"),
        "dictionary_hint": (f"类型：{'、'.join(f'{k}（{n}）' for k, n in service.names.items())}。"
                            f"最多 {service.settings.max_dict_entries:,} 条；词典条目优先于模型结果。",
                            f"Types: {', '.join(f'{k} ({n})' for k, n in names_en.items())}. At most "
                            f"{service.settings.max_dict_entries:,} entries; an entry wins over the model."),
        **{f"type_{k}": (service.legend[k], k if names_en[k] == k else f"{names_en[k]} {k}") for k in service.types},
        **{f"column_{k}": (zh, en) for k, (zh, en) in enumerate(zip(*TABLE_HEADERS.values()))},
    }
    return translations(extra)


def mcp_enabled(settings: Settings) -> bool:
    """Whether to serve the MCP tools: NER_MCP is on (the default) and the ``mcp`` package is installed."""
    if not settings.mcp:
        return False
    try:
        import mcp  # noqa: F401  (gradio[mcp])
    except ImportError:
        log.warning("NER_MCP is on but the 'mcp' package is missing: pip install \"gradio[mcp]\"; no MCP tools")
        return False
    return True


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (like MALLOC_ARENA_MAX=2) before the server's threads start.

    glibc gives each thread that allocates its own arena, so a threadpool serving
    many concurrent requests grows resident memory far beyond what it uses;
    measured here: +40% over 30 s of 20 clients, +8% with the cap.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to cap
        pass


def main() -> None:
    limit_malloc_arenas()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        log.error("cannot start: %s", exc)
        sys.exit(2)
    try:  # before the model loads: a taken port is known at once
        sock = bind(settings)
    except OSError as exc:
        log.error("cannot start: %s", exc.strerror)
        sys.exit(2)
    files = FileArea.create(settings.file_ttl_s, settings.cache_max_bytes, parent=os.environ.get("GRADIO_TEMP_DIR"))
    # Gradio's upload folder and cache: this process's own folder, removed when it stops
    os.environ["GRADIO_TEMP_DIR"] = str(files.root)
    try:
        service = load_service(settings, files)
    except (ValueError, ner.NerError) as exc:  # a bad model or NER_USER_DICT (FormatError names its line)
        files.remove()
        log.error("cannot start: %s", exc)
        sys.exit(2)
    app = Guard(create_app(service), settings, files)
    log.info("model %r loaded and warmed; serving on http://%s:%d", service.model_name, settings.host, settings.port)
    serve(app, settings, on_stop=[app.stop, service.close], on_exit=[files.remove], sock=sock)


if __name__ == "__main__":
    main()
