/* Review workspace: keyboard shortcuts and finding ↔ code-line highlighting.
 *
 * j / k  next / previous encounter      n / p  next / previous finding
 * a      focus the add-a-code field     r      mark reviewed
 * ?      show or hide the shortcut help Esc    leave a field / close the help
 *
 * Shortcuts never fire while the person types in a field or holds a modifier key. Everything
 * here is an enhancement: the page works without it.
 */
(function () {
  "use strict";

  function typing(target) {
    if (!target || !(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    return Boolean(target.closest("input, textarea, select, [contenteditable]"));
  }

  function findings() {
    return Array.prototype.slice.call(document.querySelectorAll("#workspace .finding"));
  }

  function clearLinked() {
    document.querySelectorAll("#workspace tr.is-linked").forEach(function (row) {
      row.classList.remove("is-linked");
    });
    document.querySelectorAll("#workspace .finding.is-current").forEach(function (item) {
      item.classList.remove("is-current");
    });
  }

  function highlight(item) {
    clearLinked();
    if (!item) return;
    item.classList.add("is-current");
    (item.dataset.rows || "").split(" ").forEach(function (id) {
      var row = id && document.getElementById(id);
      if (row) row.classList.add("is-linked");
      var detail = id && document.getElementById(id + "-d"); // the line's detail row
      if (detail) detail.classList.add("is-linked");
    });
  }

  function moveFinding(step) {
    var items = findings();
    if (!items.length) return;
    var current = items.indexOf(document.querySelector("#workspace .finding.is-current"));
    var next = current < 0 ? (step > 0 ? 0 : items.length - 1) : current + step;
    next = Math.max(0, Math.min(items.length - 1, next));
    items[next].focus();
    items[next].scrollIntoView({ block: "nearest" });
    highlight(items[next]);
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link && link.href) window.location.assign(link.href);
  }

  function toggleHelp(force) {
    var help = document.getElementById("shortcut-help");
    if (!help) return;
    help.hidden = typeof force === "boolean" ? !force : !help.hidden;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      toggleHelp(false);
      if (typing(event.target)) event.target.blur();
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var handled = true;
    switch (event.key) {
      case "j": follow("nav-next"); break;
      case "k": follow("nav-prev"); break;
      case "n": moveFinding(1); break;
      case "p": moveFinding(-1); break;
      case "a": {
        var field = document.getElementById("add-code");
        if (field) { field.focus(); field.scrollIntoView({ block: "nearest" }); } else handled = false;
        break;
      }
      case "r": {
        var button = document.getElementById("mark-reviewed");
        if (button) button.click(); else handled = false;
        break;
      }
      case "?": toggleHelp(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  // Hovering or focusing a finding lights up the code lines it is about.
  document.addEventListener("focusin", function (event) {
    var item = event.target instanceof Element && event.target.closest("#workspace .finding");
    if (item) highlight(item);
  });
  document.addEventListener("mouseover", function (event) {
    var item = event.target instanceof Element && event.target.closest("#workspace .finding");
    if (item && !item.classList.contains("is-current")) highlight(item);
  });

  // The E/M helper of a line without a finding only previews (htmx); it has nothing to save.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.classList.contains("em-form") && !form.hasAttribute("action")) {
      event.preventDefault();
    }
  }, true);

  // A line whose fields were edited but not saved is marked, so nothing is lost unnoticed.
  document.addEventListener("input", function (event) {
    var row = event.target instanceof Element && event.target.closest("#workspace tr.line");
    if (row) row.classList.add("is-dirty");
  });
  window.addEventListener("beforeunload", function (event) {
    if (document.querySelector("#workspace tr.is-dirty")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
