// Passkeys (WebAuthn): adding one on the passkeys page, signing in with one on the second-step page.
// The server speaks JSON with binary fields in base64url; the browser API wants ArrayBuffers.
(function () {
    "use strict";

    function toBytes(text) {
        var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
        var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
        return Uint8Array.from(binary, function (c) { return c.charCodeAt(0); }).buffer;
    }

    function toText(buffer) {
        var bytes = new Uint8Array(buffer), binary = "";
        for (var i = 0; i < bytes.length; i++) {
            binary += String.fromCharCode(bytes[i]);
        }
        return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    }

    function withIds(list) {
        return (list || []).map(function (item) { return Object.assign({}, item, {id: toBytes(item.id)}); });
    }

    async function post(button, url, body) {
        var response = await fetch(url, {
            method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRFToken": button.dataset.csrf},
            body: JSON.stringify(body || {})
        });
        var data = {};
        try { data = await response.json(); } catch (ignored) { data = {}; }
        if (!response.ok) {
            throw new Error(data.error || button.dataset.failed);
        }
        return data;
    }

    function show(button, message) {
        var status = document.getElementById(button.dataset.status);
        status.textContent = message;
        status.hidden = false;
    }

    async function add(button) {
        var options = await post(button, button.dataset.optionsUrl);
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        options.excludeCredentials = withIds(options.excludeCredentials);
        var created = await navigator.credentials.create({publicKey: options});
        var reply = {
            id: created.id, rawId: toText(created.rawId), type: created.type,
            authenticatorAttachment: created.authenticatorAttachment,
            clientExtensionResults: created.getClientExtensionResults(),
            response: {
                clientDataJSON: toText(created.response.clientDataJSON),
                attestationObject: toText(created.response.attestationObject),
                transports: created.response.getTransports ? created.response.getTransports() : []
            }
        };
        var name = document.getElementById("passkey-name");
        return post(button, button.dataset.url, {credential: reply, name: name ? name.value : ""});
    }

    async function signIn(button) {
        var options = await post(button, button.dataset.optionsUrl);
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = withIds(options.allowCredentials);
        var got = await navigator.credentials.get({publicKey: options});
        var handle = got.response.userHandle;
        var reply = {
            id: got.id, rawId: toText(got.rawId), type: got.type,
            authenticatorAttachment: got.authenticatorAttachment,
            clientExtensionResults: got.getClientExtensionResults(),
            response: {
                clientDataJSON: toText(got.response.clientDataJSON),
                authenticatorData: toText(got.response.authenticatorData),
                signature: toText(got.response.signature),
                userHandle: handle ? toText(handle) : null
            }
        };
        var remember = document.querySelector("input[name=remember]");
        return post(button, button.dataset.url, {credential: reply, remember: !!(remember && remember.checked)});
    }

    function wire(button, ceremony) {
        if (!window.PublicKeyCredential) {
            show(button, button.dataset.unsupported);
            button.disabled = true;
            return;
        }
        button.addEventListener("click", async function () {
            button.disabled = true;
            try {
                var done = await ceremony(button);
                window.location.assign(done.redirect);
            } catch (error) {
                // The browser's own errors (cancelled, timed out) are in English: say ours instead.
                show(button, error.name === "Error" ? error.message : button.dataset.failed);
                button.disabled = false;
            }
        });
    }

    document.querySelectorAll("[data-passkey=add]").forEach(function (b) { wire(b, add); });
    document.querySelectorAll("[data-passkey=sign-in]").forEach(function (b) { wire(b, signIn); });
}());
