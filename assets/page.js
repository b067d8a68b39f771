(strings) => {
  // The page's language is the one Gradio chose from the browser and wrote into <html lang>: English for "en-*"
  // (and for languages the page does not have), Chinese otherwise.  `strings` is {zh: {key: text}, en: {...}},
  // the page strings of ner_app.i18n.
  const lang = () => ((document.documentElement.lang || "zh").toLowerCase().startsWith("zh") ||
                      !document.documentElement.lang ? "zh" : "en");
  // Gradio writes a toast's title as its English type ("Error", "Warning"...) in every locale: Chinese ones here.
  const titles = { Error: "错误", Warning: "警告", Info: "提示", Success: "完成" };
  // What the user typed, shown back (the highlight, the table's cells): never rewritten, whatever it holds.
  const USER_TEXT = "#highlight .textfield, #entity-table [role=gridcell], #entity-table tbody";
  const MARK = "__i18n__";
  // Gradio leaves the keys of gr.I18n untranslated in two places: example labels (cut to a few characters, so
  // found by their position) and the table's column names; they are written here in the page's language.
  const translateText = (node, words) => {
    if (!node.textContent.includes(MARK) || node.parentElement?.closest(USER_TEXT)) return;
    node.textContent = node.textContent.replace(/__i18n__(\{[^}]*\})/g, (whole, data) => {
      try { return words[JSON.parse(data).key] ?? whole; } catch { return whole; }
    });
  };
  const translateTitle = (el) => {
    for (const node of el.childNodes) {
      const word = node.nodeType === Node.TEXT_NODE ? node.textContent.trim() : "";
      if (titles[word]) node.textContent = titles[word] + " ";
    }
  };
  // One pass over what changed: each added or changed node is looked at once (its own subtree, not its parent's),
  // so a result of a thousand spans costs a thousand looks, not a thousand walks of the whole result.
  const translate = (nodes) => {
    const words = strings[lang()] || {};
    const zh = lang() === "zh";
    for (const node of nodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        translateText(node, words);
        const title = zh && node.parentElement?.closest(".toast-title");
        if (title) translateTitle(title);
        continue;
      }
      if (node.nodeType !== Node.ELEMENT_NODE && node.nodeType !== Node.DOCUMENT_NODE) continue;
      if (zh) {
        if (node.matches?.(".toast-title")) translateTitle(node);
        node.querySelectorAll(".toast-title").forEach(translateTitle);
      }
      if (!(node.body || node).textContent.includes(MARK)) continue;
      const walker = document.createTreeWalker(node.body || node, NodeFilter.SHOW_TEXT);
      const found = [];
      while (walker.nextNode()) if (walker.currentNode.textContent.includes(MARK)) found.push(walker.currentNode);
      for (const text of found) translateText(text, words);
    }
    document.querySelectorAll("#examples button").forEach((button, k) => {
      if (button.textContent.includes(MARK) && words[`example_${k}`]) button.textContent = words[`example_${k}`];
    });
  };
  // Gradio hides the footer's "Use via API or MCP" link on screens under 640 px; the page keeps it (its CSS file
  // is scoped to Gradio's container, which the footer is outside of, hence a style element of its own).  Gradio
  // also ends the footer with a divider that divides nothing (after its hidden "Stop Recording" button): gone.
  const keepApiLink = document.createElement("style");
  keepApiLink.textContent = "@media (max-width: 640px) { footer .show-api { display: flex !important; } }\n" +
    "footer .divider:last-child { display: none !important; }";
  document.head.appendChild(keepApiLink);
  translate([document]);
  new MutationObserver((changes) => {
    const nodes = new Set();
    for (const change of changes) {
      if (change.type === "characterData") nodes.add(change.target);
      for (const node of change.addedNodes) if (node.isConnected) nodes.add(node);
    }
    if (nodes.size) translate(nodes);
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}
