// Copy buttons: progressive enhancement. Without JavaScript the buttons stay hidden and the readonly
// fields can be selected and copied by hand.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard) {
    return;
  }
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) {
      return;
    }
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value).then(
        function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 2000);
        },
        function () {
          source.select();
          button.textContent = "Press Ctrl+C to copy";
        }
      );
    });
  });
});
