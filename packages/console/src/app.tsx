import type { WhoAmIResponse } from "@vigil/contract";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, get, onSessionEnded, onStepRequired } from "./api.js";
import { ErrorBox, Link, Loading } from "./components.js";
import { live, useLiveState } from "./live.js";
import { DeviceDetailPage, DevicesPage } from "./pages/devices.js";
import { IncidentDetailPage, IncidentsPage } from "./pages/incidents.js";
import { ChangePasswordPage, LoginPage } from "./pages/login.js";
import { MfaEnrolment } from "./pages/mfa.js";
import {
  AssetsPage,
  AuditPage,
  CompliancePage,
  DetectionsPage,
  SettingsPage,
  UpdatesPage,
  VulnerabilitiesPage,
} from "./pages/other.js";
import { OverviewPage } from "./pages/overview.js";

const NAV: readonly [string, string][] = [
  ["", "Overview"],
  ["devices", "Devices"],
  ["incidents", "Incidents"],
  ["detections", "Detections"],
  ["assets", "Network assets"],
  ["updates", "Updates"],
  ["vulnerabilities", "Vulnerabilities"],
  ["compliance", "Compliance"],
  ["audit", "Audit log"],
  ["settings", "Settings"],
];

function currentPath(): string {
  return decodeURIComponent(location.pathname.replace(/^\/console\/?/, "").replace(/\/$/, ""));
}

function usePath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const update = () => {
      setPath(currentPath());
      window.scrollTo(0, 0);
      document.getElementById("main")?.focus();
    };
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return path;
}

function Page({ path }: { path: string }) {
  const [section, id] = [path.split("/")[0] ?? "", path.split("/").slice(1).join("/")];
  switch (section) {
    case "":
      return <OverviewPage />;
    case "devices":
      return id ? <DeviceDetailPage key={id} id={id} /> : <DevicesPage />;
    case "incidents":
      return id ? <IncidentDetailPage key={id} id={id} /> : <IncidentsPage />;
    case "detections":
      return <DetectionsPage />;
    case "assets":
      return <AssetsPage />;
    case "updates":
      return <UpdatesPage />;
    case "vulnerabilities":
      return <VulnerabilitiesPage />;
    case "compliance":
      return <CompliancePage />;
    case "audit":
      return <AuditPage />;
    case "settings":
      return <SettingsPage />;
    default:
      return (
        <>
          <h1>Page not found</h1>
          <p>
            There is no console page at /console/{path}. Go to the <Link href="">overview</Link>.
          </p>
        </>
      );
  }
}

type Who = WhoAmIResponse | null | undefined;

export function App() {
  const [who, setWho] = useState<Who>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const path = usePath();
  const liveState = useLiveState();

  /** A step before full access: the one-time password to replace, then (for most roles) a second factor to enrol. */
  const [step, setStep] = useState<{ password: boolean; mfa: boolean } | undefined>(undefined);

  const refresh = () =>
    get<WhoAmIResponse>("/api/v1/auth/whoami").then(
      (w) => {
        setWho(w);
        setError(undefined);
      },
      (e: unknown) => {
        if (e instanceof ApiError && e.status === 401) setWho(null);
        else setError(e);
      },
    );
  useEffect(() => {
    void refresh();
    const offEnded = onSessionEnded(() => {
      live.stop();
      setStep(undefined);
      setNotice("Your session ended. Log in again.");
      setWho(null);
    });
    const offStep = onStepRequired((code) =>
      setStep({ password: code === "AUTH_PASSWORD_CHANGE_REQUIRED", mfa: code === "AUTH_MFA_ENROLLMENT_REQUIRED" }),
    );
    return () => {
      offEnded();
      offStep();
    };
  }, []);
  useEffect(() => {
    if (liveState === "ended") {
      setNotice(`Live updates stopped: ${live.endReason}`);
      void refresh();
    }
  }, [liveState]);
  useEffect(() => {
    if (who && step === undefined) live.start();
  }, [who, step]);

  if (error !== undefined) {
    return (
      <main id="main">
        <ErrorBox error={error} what="reach Vigil" />
      </main>
    );
  }
  if (who === undefined) {
    return (
      <main id="main">
        <Loading what="the console" />
      </main>
    );
  }
  if (step?.password) {
    return (
      <ChangePasswordPage
        onDone={() => (step.mfa ? setStep({ password: false, mfa: true }) : (setStep(undefined), void refresh()))}
      />
    );
  }
  if (step?.mfa) {
    return (
      <main id="main" class="login">
        <h1>Enrol a second factor</h1>
        <p>Your role needs a second factor before anything else.</p>
        <MfaEnrolment
          onDone={() => {
            // The code just given proves the factor: this session now counts as opened with it.
            setStep(undefined);
            void refresh();
          }}
        />
      </main>
    );
  }
  if (who === null) {
    return (
      <LoginPage
        notice={notice}
        onLoggedIn={(s) => {
          setNotice(undefined);
          if (s.mustChangePassword || s.mfaEnrollmentRequired)
            setStep({ password: s.mustChangePassword, mfa: s.mfaEnrollmentRequired });
          void refresh();
        }}
      />
    );
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Vigil</span>
        <span class={`live live-${liveState}`} role="status">
          {liveState === "live" ? "● live" : liveState === "connecting" ? "○ connecting…" : "○ live updates off"}
        </span>
        <span class="who">
          {who.operator} ({who.role})
          <button
            type="button"
            class="secondary"
            onClick={() => {
              live.stop();
              void api("DELETE", "/api/v1/auth/session").finally(() => {
                setNotice("You logged out.");
                setWho(null);
              });
            }}
          >
            Log out
          </button>
        </span>
      </header>
      <div class="layout">
        <nav aria-label="Console pages">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <Link
                  href={href}
                  class={(path.split("/")[0] ?? "") === href ? "active" : undefined}
                  current={(path.split("/")[0] ?? "") === href}
                >
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {notice ? (
            <p class="notice" role="status">
              {notice}
            </p>
          ) : null}
          <Page path={path} />
        </main>
      </div>
    </>
  );
}
