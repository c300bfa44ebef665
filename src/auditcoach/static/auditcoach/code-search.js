/* As-you-type code search for the workspace's code fields (a WAI-ARIA combobox).
 *
 * Each code field is `role="combobox"` and asks `codesets:search` through htmx
 * (hx-trigger="input changed delay:150ms"); the answer (options) lands in the one listbox
 * `#code-options`, which this script places under the field that asked and drives from the
 * keyboard: ↓/↑ move, Enter picks, Esc closes (a second Esc leaves the field), Tab moves on.
 * Picking fills the code and the line's system field (`data-system-field`). Without this
 * script the fields are plain text inputs and everything still works.
 */
(function () {
  "use strict";

  var LISTBOX = "code-options";
  var owner = null; // the field the open list belongs to

  function listbox() {
    return document.getElementById(LISTBOX);
  }

  function options() {
    var box = listbox();
    if (!box) return [];
    return Array.prototype.slice.call(
      box.querySelectorAll('[role="option"]:not([aria-disabled="true"])')
    );
  }

  function isOpen() {
    var box = listbox();
    return Boolean(box && !box.hidden && owner);
  }

  function place(field) {
    var box = listbox();
    if (!box || !field) return;
    var rect = field.getBoundingClientRect();
    var width = Math.min(Math.max(rect.width, 560), window.innerWidth - 16);
    var left = Math.min(rect.left, window.innerWidth - width - 8);
    // Below the field, or above it when the list would run off the bottom of the window.
    var below = window.innerHeight - rect.bottom;
    var above = box.offsetHeight > below - 8 && rect.top > below;
    box.style.top = Math.round(above ? Math.max(rect.top - box.offsetHeight - 2, 8) : rect.bottom + 2) + "px";
    box.style.left = Math.round(Math.max(left, 8)) + "px";
    box.style.width = Math.round(width) + "px";
  }

  function open(field) {
    var box = listbox();
    if (!box) return;
    if (owner && owner !== field) close();
    owner = field;
    box.hidden = false;
    place(field);
    field.setAttribute("aria-expanded", "true");
  }

  function close() {
    var box = listbox();
    if (box) box.hidden = true;
    if (owner) {
      owner.setAttribute("aria-expanded", "false");
      owner.removeAttribute("aria-activedescendant");
    }
    owner = null;
  }

  function current() {
    var items = options();
    for (var i = 0; i < items.length; i++) {
      if (items[i].getAttribute("aria-selected") === "true") return i;
    }
    return -1;
  }

  function activate(index) {
    var items = options();
    items.forEach(function (item, i) {
      item.setAttribute("aria-selected", i === index ? "true" : "false");
      item.classList.toggle("is-active", i === index);
    });
    if (!owner) return;
    if (index >= 0 && items[index]) {
      owner.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    } else {
      owner.removeAttribute("aria-activedescendant");
    }
  }

  function pick(option) {
    var field = owner;
    if (!field || !option) return;
    field.value = option.dataset.code || "";
    field.dataset.picked = field.value;
    var system = field.dataset.systemField && document.getElementById(field.dataset.systemField);
    if (system && option.dataset.system) {
      if (system.tagName === "SELECT") {
        var known = Array.prototype.some.call(system.options, function (o) {
          return o.value === option.dataset.system;
        });
        if (known) system.value = option.dataset.system;
      } else {
        system.value = option.dataset.system;
      }
    }
    var row = field.closest("tr.line");
    if (row) row.classList.add("is-dirty"); // unsaved until Enter / Save, as when typed
    close();
    field.focus();
  }

  // The search answered: show the list under the field that asked, if it still wants it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== LISTBOX) {
      if (owner && !document.body.contains(owner)) close(); // the workspace was re-rendered
      return;
    }
    var field = event.detail.requestConfig && event.detail.requestConfig.elt;
    var stale = !field || field !== document.activeElement || field.value === field.dataset.picked;
    if (stale || !target.querySelector('[role="option"]')) {
      close();
      return;
    }
    open(field);
    activate(-1);
  });

  // Keys on a code field, before the workspace's shortcuts see them (capture phase).
  document.addEventListener(
    "keydown",
    function (event) {
      var field = event.target;
      if (!(field instanceof Element) || field.getAttribute("role") !== "combobox") return;
      var items = options();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!items.length) return;
        if (!isOpen()) open(field);
        var index = current();
        var step = event.key === "ArrowDown" ? 1 : -1;
        index = index < 0 ? (step > 0 ? 0 : items.length - 1) : (index + step + items.length) % items.length;
        activate(index);
        event.preventDefault();
      } else if (event.key === "Enter" && isOpen() && current() >= 0) {
        event.preventDefault();
        event.stopPropagation();
        pick(items[current()]);
      } else if (event.key === "Escape" && isOpen()) {
        event.preventDefault();
        event.stopPropagation();
        close();
      } else if (event.key === "Tab") {
        close();
      }
    },
    true
  );

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field instanceof Element && field.getAttribute("role") === "combobox") {
      delete field.dataset.picked;
    }
  });

  // A pointer pick keeps the focus in the field.
  document.addEventListener("mousedown", function (event) {
    var option = event.target instanceof Element && event.target.closest("#" + LISTBOX + ' [role="option"]');
    if (!option) return;
    event.preventDefault();
    if (option.getAttribute("aria-disabled") !== "true") pick(option);
  });

  document.addEventListener("focusout", function (event) {
    if (owner && event.target === owner) close();
  });
  window.addEventListener("resize", function () {
    if (owner) place(owner);
  });
  window.addEventListener(
    "scroll",
    function () {
      if (owner) place(owner);
    },
    true
  );
})();
