/* /agent/reset#token=…: choose a new password with the link an admin made (good once). */
import { $, api } from "./kit.js";
import { preferred, t, use } from "./i18n.js";

use(preferred()).then(function () {
  var token = (/#token=([^&]+)/.exec(location.hash) || [])[1];
  if (!token) $("reset-error").textContent = t("This page needs the link you were sent.");
  $("reset-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("reset-error").textContent = "";
    if ($("reset-password").value !== $("reset-again").value) {
      $("reset-error").textContent = t("The passwords differ.");
      return;
    }
    api("/api/agent/reset", { token: token || "", password: $("reset-password").value })
      .then(function () { location.replace("/agent"); })
      .catch(function (e) { $("reset-error").textContent = e.message; });
  });
  $("reset-password").focus();
});
