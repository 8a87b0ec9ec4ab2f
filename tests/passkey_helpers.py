"""A software passkey authenticator for tests: an EC P-256 key, attestation "none" at registration and
signed assertions at sign-in, built byte by byte as the WebAuthn spec lays them out (CBOR by cbor2)."""
import hashlib
import json
import os
from datetime import datetime

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url as b64

from tests.staff_auth_helpers import browser, code_now, give_code, password_login, reaches_screens, token_of

UP, UV, AT = 0x01, 0x04, 0x40  # authenticator data flags: user present, user verified, attested data
RP_ID, ORIGIN = "localhost", "http://localhost"  # what Flask's test client's requests carry


class SoftAuthenticator:
    """One credential on a pretend authenticator, with the signature counter it keeps."""

    def __init__(self, rp_id=RP_ID, origin=ORIGIN):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.count = 0
        self.rp_id, self.origin = rp_id, origin

    def cose_key(self):
        """The public key as a COSE_Key (EC2, P-256, ES256)."""
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _auth_data(self, flags, count, attested=False):
        data = hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big")
        if attested:
            data += bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self.cose_key()
        return data

    def _client_data(self, kind, challenge):
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}).encode()

    def create(self, options):
        """The browser's answer to registration `options` (as the server sent them, JSON)."""
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": self._auth_data(UP | UV | AT, 0, True)})
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(self._client_data("webauthn.create", options["challenge"])),
                             "attestationObject": b64(attestation), "transports": ["internal"]}}

    def get(self, challenge, count=None):
        """The browser's answer to a sign-in challenge (base64url), counting one use unless `count` is given."""
        if count is None:
            self.count += 1
            count = self.count
        client_data = self._client_data("webauthn.get", challenge)
        auth_data = self._auth_data(UP | UV, count)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(client_data), "authenticatorData": b64(auth_data),
                             "signature": b64(signature), "userHandle": None}}

    def row(self, user_id, name="Laptop"):
        """This credential stored for `user_id` directly (a fixture shortcut past the ceremony)."""
        from app.extensions import db
        from app.models import StaffPasskey

        passkey = StaffPasskey(user_id=user_id, credential_id=b64(self.credential_id), public_key=self.cose_key(),
                               sign_count=0, transports="internal", name=name, created_on=datetime.now())
        db.session.add(passkey)
        db.session.commit()
        return passkey.id


def csrf(client):
    """Headers carrying the session's CSRF token, as passkeys.js sends them."""
    return {"X-CSRFToken": token_of(client, "/my-sessions/")}


def add_passkey(client, authenticator, name="Laptop"):
    """Run the registration ceremony in `client`'s session; the final response."""
    headers = csrf(client)
    options = client.post("/passkeys/register/options", headers=headers)
    assert options.status_code == 200, options.get_data(as_text=True)
    return client.post("/passkeys/register", headers=headers,
                       json={"credential": authenticator.create(options.get_json()), "name": name})


def sign_in_options(client, path="/two-factor/"):
    """(headers, challenge) of a passkey sign-in started from the second-step page."""
    headers = {"X-CSRFToken": token_of(client, path)}
    response = client.post("/passkeys/sign-in/options", headers=headers)
    assert response.status_code == 200, response.status_code
    return headers, response.get_json()["challenge"]


def answer(client, headers, credential, remember=False):
    """Post a sign-in answer; the response."""
    return client.post("/passkeys/sign-in", headers=headers, json={"credential": credential, "remember": remember})


def signed_in(app, admin):
    """A browser where `admin` (id, username, secret) just gave the password and a code (a recent second factor)."""
    client = browser(app)
    password_login(client, admin[1])
    assert give_code(client, code_now(admin[2])).status_code == 302
    return client


def owing(app, admin):
    """A browser where `admin` gave the password and still owes the second factor."""
    client = browser(app)
    password_login(client, admin[1])
    assert not reaches_screens(client)
    return client


def stored_passkey(app, admin, name="Laptop"):
    """A software authenticator whose credential is stored for `admin`; (authenticator, row id)."""
    key = SoftAuthenticator()
    with app.app_context():
        return key, key.row(admin[0], name)


def audit_count(app, verb):
    """How many audit-trail entries have `verb`."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import ActivityEvent

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ActivityEvent).where(ActivityEvent.verb == verb))
