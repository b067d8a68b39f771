() => {
  // Gradio writes a toast's title as its English type ("Error", "Warning", "Info", "Success") in every
  // locale; the page is Chinese throughout, so each title is put into Chinese as it appears.
  const names = { Error: "错误", Warning: "警告", Info: "提示", Success: "完成" };
  const translate = (root) => {
    root.querySelectorAll?.(".toast-title").forEach((el) => {
      for (const node of el.childNodes) {
        const word = node.nodeType === Node.TEXT_NODE ? node.textContent.trim() : "";
        if (names[word]) node.textContent = names[word] + " ";
      }
    });
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) translate(node.parentElement || document);
      if (change.type === "characterData") translate(change.target.parentElement || document);
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}
