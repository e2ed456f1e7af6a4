// 河洛问答 in the browser.
// 1. A click on [n] (or on a source card in an answer) opens that source's card.
// Wide screens: the card opens in the sources panel beside the chat and scrolls into view.
// Narrow screens (a phone): the card opens in a drawer over the chat, with a button (and the
// phone's back gesture) that closes it where the reader was. Delegated from the document, in
// the capture phase, because Gradio re-renders messages and would open a Markdown link itself.
// 2. On a phone the conversation sidebar would cover the chat: it starts closed there, and
// closes again once a conversation is picked.
(() => {
  if (window.__heluoCitations) return;
  window.__heluoCitations = true;
  const NARROW = "(max-width: 820px)";
  let drawer = null;

  function closeDrawer(fromHistory) {
    if (!drawer) return;
    drawer.remove();
    drawer = null;
    document.body.classList.remove("heluo-drawer-open");
    if (!fromHistory && history.state && history.state.heluoDrawer) history.back();
  }

  function openDrawer(card) {
    closeDrawer(true);
    drawer = document.createElement("div");
    drawer.className = "heluo-drawer";
    drawer.id = "heluo-drawer";
    drawer.setAttribute("role", "dialog");
    drawer.setAttribute("aria-modal", "true");
    const sheet = document.createElement("div");
    sheet.className = "heluo-drawer-sheet";
    const back = document.createElement("button");
    back.type = "button";
    back.className = "heluo-drawer-back";
    back.textContent = "← 返回回答";
    back.addEventListener("click", () => closeDrawer(false));
    const copy = card.cloneNode(true);
    copy.removeAttribute("id");
    copy.open = true;
    sheet.append(back, copy);
    drawer.append(sheet);
    drawer.addEventListener("click", (event) => {
      if (event.target === drawer) closeDrawer(false);
    });
    document.body.append(drawer);
    document.body.classList.add("heluo-drawer-open");
    history.pushState({ heluoDrawer: true }, "");
    back.focus({ preventScroll: true });
  }

  function closeSidebarOnPhone() {
    const sidebar = document.getElementById("heluo-sidebar");
    if (!sidebar || !sidebar.classList.contains("open") || !window.matchMedia(NARROW).matches) return;
    const toggle = sidebar.querySelector(".toggle-button");
    if (toggle) toggle.click();
  }
  const waitingSince = Date.now();
  const waitForSidebar = setInterval(() => {
    if (document.getElementById("heluo-sidebar") || Date.now() - waitingSince > 20000) {
      clearInterval(waitForSidebar);
      closeSidebarOnPhone();
    }
  }, 100);
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#heluo-conversations label, #heluo-new")) {
      setTimeout(closeSidebarOnPhone, 300);
    }
  });

  window.addEventListener("popstate", () => closeDrawer(true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDrawer(false);
  });
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#cite-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(link.getAttribute("href").slice(1));
    if (!card) return;
    card.open = true;
    if (window.matchMedia(NARROW).matches) {
      openDrawer(card);
      return;
    }
    card.scrollIntoView({ behavior: "smooth", block: "start" });
    card.classList.remove("heluo-flash");
    void card.offsetWidth;
    card.classList.add("heluo-flash");
  }, true);
})();
