/* The notification settings page's "Enable push on this browser" button: permission, service worker,
   PushManager.subscribe with the server's VAPID key, then the subscription JSON is posted to the server. */
(function () {
  "use strict";
  function t(text, values) {  /* app.js's helper: the text in the page's language (English before it loads) */
    return window.kanbanText ? window.kanbanText(text, values) : text;
  }

  function keyBytes(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(padded);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function say(status, text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  async function subscribe(button, status) {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
      say(status, t("This browser does not support push notifications."), "unsupported");
      return;
    }
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      say(status, t("Notifications are blocked for this site in the browser's settings."), "denied");
      return;
    }
    say(status, t("Subscribing…"), "working");
    const registration = await navigator.serviceWorker.register(button.dataset.worker);
    await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(button.dataset.key),
    });
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const response = await fetch(button.dataset.url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(subscription.toJSON()),
    });
    if (!response.ok) {
      say(status, t("The server refused the subscription (%(status)s).", {status: response.status}), "error");
      return;
    }
    say(status, t("This browser will receive push notifications."), "subscribed");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("push-subscribe");
    const status = document.getElementById("push-status");
    if (!button || !status) return;
    button.addEventListener("click", () => {
      subscribe(button, status).catch((err) => say(status, t("Could not subscribe: %(error)s", {error: err.message}), "error"));
    });
  });
})();
