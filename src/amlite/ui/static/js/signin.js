// Sign-in: the API's bearer token, pasted once, checked, kept in sessionStorage.
import { ApiError, Unauthorized, clearToken, getWorkspace, request, setToken, wsPath } from "./api.js";
import { h } from "./dom.js";

export function renderSignIn(page, message, done) {
  const input = h("input", {
    type: "password",
    name: "token",
    id: "token",
    autocomplete: "off",
    placeholder: "contents of $AMLITE_HOME/token",
    size: 48,
    required: true,
  });
  const error = h("p", { className: "error", id: "signin-error", role: "alert" }, message || "");
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { className: "card signin", id: "signin" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste the amlite API token (the admin token is in ", h("code", {}, "$AMLITE_HOME/token"), "). It is kept for this browser tab only."),
    h("label", { htmlFor: "token" }, "Token "),
    input,
    " ",
    submit,
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    submit.disabled = true;
    setToken(token);
    try {
      await request(`${wsPath(getWorkspace())}/jobs`, { params: { $top: 1 } });
      done();
    } catch (err) {
      clearToken();
      submit.disabled = false;
      if (err instanceof Unauthorized) error.textContent = `The token was refused (401): ${err.message}`;
      else if (err instanceof ApiError && err.status === 403)
        error.textContent = "This token cannot list jobs (a job's own token?); use the admin token.";
      else error.textContent = `Could not check the token: ${err.message}`;
    }
  });
  page.view.replaceChildren(form);
  input.focus();
  page.ready("signin");
}
