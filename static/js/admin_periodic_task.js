// django-celery-beat's periodic task form (templates/admin/djcelery/): show the chosen
// crontab in words under the crontab field. Replaces django-celery-beat's inline script.
(function () {
  "use strict";

  var script = document.currentScript;
  var data = document.getElementById("readable-crontabs");
  var select = document.getElementById("id_crontab");
  if (!script || !data || !select) return;
  var readableCrontabs = JSON.parse(data.textContent);
  var originalHelp = script.dataset.crontabHelp || "";

  function updateHelp() {
    var help = document.querySelector(".field-crontab .help");
    if (!help) return;
    var words = readableCrontabs[select.value];
    help.textContent = originalHelp;
    if (words) {
      help.appendChild(document.createElement("br"));
      help.appendChild(document.createTextNode("Translation: " + words));
    }
  }

  var translation = document.querySelector(".field-crontab_translation");
  if (translation) translation.style.display = "none"; // CSSOM: allowed by the CSP
  select.addEventListener("change", updateHelp);
})();
