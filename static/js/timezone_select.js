// Timezone selects (merchants.forms.TimezoneField, marked data-timezone-select): when nothing is chosen yet,
// pre-select the browser's own zone if the list offers it. Loaded with `defer`: the DOM is parsed.
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) {
    return;
  }
  var selects = document.querySelectorAll("select[data-timezone-select]");
  for (var i = 0; i < selects.length; i++) {
    var select = selects[i];
    if (select.value) {
      continue; // a choice made already (or a saved value) wins over the guess
    }
    for (var j = 0; j < select.options.length; j++) {
      if (select.options[j].value === zone) {
        select.value = zone;
        select.setAttribute("data-timezone-guessed", zone);
        break;
      }
    }
  }
})();
