(strings) => {
  // The page's language is the one Gradio chose from the browser and wrote into <html lang>: English for "en-*"
  // (and for languages the page does not have), Chinese otherwise.  `strings` is {zh: {key: text}, en: {...}},
  // the page strings of ner_app.i18n.
  const lang = () => ((document.documentElement.lang || "zh").toLowerCase().startsWith("zh") ||
                      !document.documentElement.lang ? "zh" : "en");
  // Gradio writes a toast's title as its English type ("Error", "Warning"...) in every locale: Chinese ones here.
  const titles = { Error: "错误", Warning: "警告", Info: "提示", Success: "完成" };
  // Gradio leaves the keys of gr.I18n untranslated in two places: example labels (cut to a few characters, so
  // found by their position) and the table's column names; they are written here in the page's language.
  const translate = (root) => {
    const words = strings[lang()] || {};
    if (lang() === "zh") {
      root.querySelectorAll?.(".toast-title").forEach((el) => {
        for (const node of el.childNodes) {
          const word = node.nodeType === Node.TEXT_NODE ? node.textContent.trim() : "";
          if (titles[word]) node.textContent = titles[word] + " ";
        }
      });
    }
    document.querySelectorAll("#examples button").forEach((button, k) => {
      if (button.textContent.includes("__i18n__") && words[`example_${k}`]) button.textContent = words[`example_${k}`];
    });
    const walker = document.createTreeWalker(root.body || root, NodeFilter.SHOW_TEXT);
    const found = [];
    while (walker.nextNode()) if (walker.currentNode.textContent.includes("__i18n__")) found.push(walker.currentNode);
    for (const node of found) {
      node.textContent = node.textContent.replace(/__i18n__(\{[^}]*\})/g, (whole, data) => {
        try { return words[JSON.parse(data).key] ?? whole; } catch { return whole; }
      });
    }
  };
  // Gradio hides the footer's "Use via API or MCP" link on screens under 640 px; the page keeps it (its CSS file
  // is scoped to Gradio's container, which the footer is outside of, hence a style element of its own).
  const keepApiLink = document.createElement("style");
  keepApiLink.textContent = "@media (max-width: 640px) { footer .show-api, footer .show-api-divider { display: flex !important; } }";
  document.head.appendChild(keepApiLink);
  translate(document);
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) translate(node.parentElement || document);
      if (change.type === "characterData") translate(change.target.parentElement || document);
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}
