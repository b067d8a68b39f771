"""The page's layout: the header, the input column (text, 实时侦测, upload, dictionary, examples), the result column
(counts, downloads, filters, highlights, table), each event wired to a :class:`ner_app.service.NerService`
handler, and the client API beside them; its strings in both languages and its script."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import gradio as gr

from ner import samples
from ner.entity import TYPE_NAMES_EN
from ner.outputs import OUTPUTS

from . import view
from .client_api import add_client_api
from .config import Settings
from .files import UploadsOnlyBlocks
from .i18n import COLUMNS, localized, t, translations
from .page import Prefs
from .service import NerService

log = logging.getLogger(__name__)

TITLE = "AI 智能实体侦测服务"
TITLE_EN = "AI Named-Entity Detection"
#: the page's style sheets and script, in the repository's assets/ folder
def _assets() -> Path:
    """The page's assets folder: beside the package in a checkout (and on a Space), else beside ``app.py`` in the
    working directory (the Docker image installs the package and runs ``app.py`` from its own folder)."""
    here = Path(__file__).resolve().parent.parent / "assets"
    for folder in (here, Path.cwd() / "assets"):
        if (folder / "page.js").is_file():
            return folder
    return here


ASSETS = _assets()
CSS_PATH = ASSETS / "style.css"
DOCS_CSS_PATH = CSS_PATH.with_name("docs.css")
#: the page's script: Gradio's toast titles in Chinese, and the page strings Gradio leaves untranslated
JS_PATH = ASSETS / "page.js"
HIGHLIGHT_ID = "highlight"
EXAMPLES = [[text] for text in samples.PAGE_EXAMPLES]  # sentences the shipped model gets right
EXAMPLE_LABELS = [t(f"example_{k}") for k in range(len(EXAMPLES))]
#: on a narrow screen the result column is below the input: bring it into view when a run starts
SCROLL_TO_RESULT = """(...args) => {
    if (window.innerWidth < 800) document.getElementById('result')?.scrollIntoView({behavior: 'smooth'});
    return args;
}"""
THEME = gr.themes.Base(primary_hue="cyan", secondary_hue="pink", neutral_hue="slate",
                       font=["system-ui", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "sans-serif"],
                       font_mono=["ui-monospace", "Consolas", "monospace"])



def build_demo(service: NerService) -> gr.Blocks:
    """The page and the client API, wired to ``service``; nothing is launched (:func:`ner_app.create_app`
    mounts it)."""
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
                                 for key in OUTPUTS]
                with gr.Row(elem_id="filters"):
                    min_score = gr.Slider(0, 1, value=0, step=0.05, label=t("min_score"), elem_id="min-score",
                                          min_width=160)
                    types = gr.CheckboxGroup([(t(f"type_{k}"), k) for k in service.types], value=service.types,
                                             label=t("types"), elem_id="types", min_width=160)
                # the legend is the counts row above (each type's colour, name and code)
                highlight = gr.HighlightedText(label=t("highlight"), color_map=service.colors, show_legend=False,
                                               combine_adjacent=False, elem_id=HIGHLIGHT_ID)
                table = gr.Dataframe(headers=[t(f"column_{k}") for k in range(len(COLUMNS["zh"]))],
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

        # Client API (and MCP tools): hidden, typed inputs, checked by the one request check
        add_client_api(service)
    demo.bound(service.settings, service.files)  # sessions, the queue per client, uploads (issue 26)
    demo.queue(max_size=service.settings.queue_size)
    return demo


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
        **{f"column_{k}": (zh, en) for k, (zh, en) in enumerate(zip(*COLUMNS.values()))},
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


