// Progressive enhancement for the console: every page works without this file.
(function () {
  "use strict";

  function announce(button, text) {
    var region = document.querySelector(".copy-status");
    if (region) {
      region.textContent = "";
      window.setTimeout(function () { region.textContent = text; }, 50);
    }
    var original = button.getAttribute("data-label") || button.firstChild.textContent;
    button.setAttribute("data-label", original);
    button.firstChild.textContent = text === "Copied" ? "Copied" : original;
    button.classList.toggle("copied", text === "Copied");
    window.setTimeout(function () {
      button.firstChild.textContent = original;
      button.classList.remove("copied");
    }, 2000);
  }

  function fallbackCopy(input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function copyFrom(button) {
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    var value = input.value;
    var done = function () { announce(button, "Copied"); };
    var failed = function () {
      if (fallbackCopy(input)) { done(); } else { announce(button, "Press Ctrl+C to copy"); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, failed);
    } else {
      failed();
    }
  }

  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copyFrom(button); });
  });

  // Read-only values select themselves on focus, ready for Ctrl+C.
  document.querySelectorAll(".copy-row input[readonly]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });

  // "On a date…" reveals the date field; without JavaScript both are always shown.
  var expires = document.getElementById("id_expires");
  var expiresOn = document.getElementById("id_expires_on");
  if (expires && expiresOn) {
    var dateField = expiresOn.closest(".field");
    var sync = function () { dateField.hidden = expires.value !== "date"; };
    expires.addEventListener("change", sync);
    sync();
  }
})();
