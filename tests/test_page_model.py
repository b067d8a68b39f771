"""A model fine-tuned on a small file with a new type (PRODUCT), served by ``python app.py`` with NER_MODEL=DIR on
a free loopback port: the legend, the REST API and gradio_client all show the new type.

Fine-tuning needs the ``train`` extra (torch); skipped without it.
"""
from __future__ import annotations

import json

import httpx
import pytest
from server_util import running_server

pytest.importorskip("torch", reason="fine-tuning needs the train extra (torch)")
pytest.importorskip("ner.finetune", reason="the fine-tuning command (ner/finetune.py)")
finetune_util = pytest.importorskip("finetune_util", reason="the fine-tune helper (tests/finetune_util.py)")
PRODUCT_TEXT = finetune_util.HELD_OUT  # a sentence in a template the training file never uses


@pytest.fixture(scope="module")
def product_server(tmp_path_factory):
    model_dir = finetune_util.finetuned_product_model(tmp_path_factory.mktemp("finetune-app"))
    with running_server(model_dir, timeout=120) as (url, _proc):
        yield url


def html_values(config: dict) -> list[str]:
    return [c["props"]["value"] for c in config["components"]
            if c.get("type") == "html" and isinstance(c.get("props", {}).get("value"), str)]


def shown(config: dict, label: str, lang: str = "zh") -> str:
    """A label as the page shows it in ``lang``: a gr.I18n key is resolved through the page's translations."""
    if label.startswith("__i18n__"):
        return config["i18n_translations"][lang][json.loads(label[len("__i18n__"):])["key"]]
    return label


def test_the_legend_shows_the_new_type_in_its_own_colour(product_server):
    config = httpx.get(f"{product_server}/config", timeout=30).json()
    legend = next(h for h in html_values(config) if 'class="stat-row legend"' in h)
    assert 'data-type="PRODUCT"' in legend and "产品" in legend  # the card's display name
    assert 'data-type="PER"' in legend and "--accent:#FF5E5E" in legend  # the seed colour stays
    product_color = legend.split('data-type="PRODUCT" style="--accent:')[1].split('"')[0]
    assert product_color.upper() not in ("#FF5E5E", "#00FFFF", "#FFFF00")
    choices = [c["props"].get("choices") for c in config["components"] if c.get("props", {}).get("elem_id") == "types"]
    assert ["产品 PRODUCT", "PRODUCT"] in [[shown(config, label), value] for label, value in choices[0]]
    highlight = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "highlight")
    assert highlight["props"]["color_map"]["PRODUCT"] == product_color


def test_rest_and_gradio_client_return_the_new_type(product_server):
    from gradio_client import Client

    rest = httpx.post(f"{product_server}/api/v1/ner", json={"text": PRODUCT_TEXT}, timeout=30).json()
    assert ("小米14", "PRODUCT") in [(e["text"], e["type"]) for e in rest["entities"]]
    only = httpx.post(f"{product_server}/api/v1/ner", json={"text": PRODUCT_TEXT, "types": ["PRODUCT"]},
                      timeout=30).json()
    assert {e["type"] for e in only["entities"]} == {"PRODUCT"}
    client = Client(product_server, verbose=False)
    extracted = client.predict(PRODUCT_TEXT, api_name="/extract")
    assert ("小米14", "PRODUCT") in [(e["text"], e["type"]) for e in extracted["entities"]]
    tokens = client.predict(PRODUCT_TEXT, api_name="/recognize")
    assert ("小米14", "PRODUCT") in [(t["token"], t["class_or_confidence"]) for t in tokens]
