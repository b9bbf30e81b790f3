import type { RecoveryCodesResponse, TotpEnrollResponse } from "@vigil/contract";
import QRCode from "qrcode";
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { ErrorBox } from "../components.js";

/**
 * TOTP enrolment: the server returns a new secret and its otpauth:// URI (RFC 6238 via the
 * Key Uri Format); the page draws the URI as a QR code for an authenticator app, then the
 * operator confirms with a first code and keeps the recovery codes (shown once).
 */
export function MfaEnrolment({ onDone }: { onDone?: () => void }) {
  const [enrol, setEnrol] = useState<TotpEnrollResponse | undefined>(undefined);
  const [qr, setQr] = useState<string | undefined>(undefined);
  const [code, setCode] = useState("");
  const [codes, setCodes] = useState<string[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const start = async () => {
    setError(undefined);
    try {
      const r = await api<TotpEnrollResponse>("POST", "/api/v1/auth/mfa/totp", {});
      setEnrol(r);
      setQr(await QRCode.toDataURL(r.otpauthUri, { margin: 2, width: 220, errorCorrectionLevel: "M" }));
    } catch (e) {
      setError(e);
    }
  };
  const confirm = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await api<RecoveryCodesResponse>("POST", "/api/v1/auth/mfa/totp/confirm", { code: code.trim() });
      setCodes(r.recoveryCodes);
    } catch (err) {
      setError(err);
    }
  };

  if (codes !== undefined) {
    return (
      <div class="mfa">
        <p role="status">Your authenticator app is enrolled.</p>
        {codes.length > 0 ? (
          <>
            <p>Keep these recovery codes somewhere safe: each works once, and they are shown only now.</p>
            <ul class="codes">
              {codes.map((c) => (
                <li key={c}>
                  <code>{c}</code>
                </li>
              ))}
            </ul>
          </>
        ) : null}
        {onDone ? (
          <button type="button" onClick={onDone}>
            Continue
          </button>
        ) : null}
      </div>
    );
  }
  return (
    <div class="mfa">
      {enrol === undefined ? (
        <button type="button" onClick={() => void start()}>
          Enrol an authenticator app (TOTP)
        </button>
      ) : (
        <>
          <p>Scan this code with your authenticator app, then type the 6-digit code it shows.</p>
          {qr ? <img class="qr" src={qr} alt="QR code of the TOTP secret (otpauth URI)" width={220} height={220} /> : null}
          <details>
            <summary>Cannot scan? Type the secret instead</summary>
            <code class="secret">{enrol.secret}</code>
          </details>
          <form onSubmit={(e) => void confirm(e)}>
            <label>
              Code from the app
              <input
                name="code"
                inputMode="numeric"
                pattern="\d{6}"
                required
                value={code}
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            </label>
            <button type="submit">Confirm</button>
          </form>
        </>
      )}
      <ErrorBox error={error} what="enrol the second factor" />
    </div>
  );
}
