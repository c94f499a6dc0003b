// The second key of the Notifications view. Notifications, audiences and templates need a key with the
// `users` scope (or `admin`); the web app signs in with a read key, which may not reach an app's users.
// When the sign-in key is refused there, the view asks once for a users (or admin) key and keeps it in
// this browser beside the read key; signing out forgets both (app.js). This module is the one place
// that stores it and decides which key the Notifications view talks with. docs/webapp.md.

import { Api, ApiError } from "./api.js";

const USERS_KEY_STORAGE = "pushlog.usersKey";

export function storedUsersKey() {
  return localStorage.getItem(USERS_KEY_STORAGE);
}

export function storeUsersKey(key) {
  localStorage.setItem(USERS_KEY_STORAGE, key);
}

export function forgetUsersKey() {
  localStorage.removeItem(USERS_KEY_STORAGE);
}

/** A cheap request only a users or admin key may make: whether `api`'s key reaches the notifications. */
export async function canNotify(api) {
  await api.get("/v1/notifications?limit=1");
}

/** Why a key was refused by the notifications API, as a sentence for the person holding it. */
export function explainUsersKeyError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return "The hub does not accept this key (unknown or revoked).";
    if (err.status === 403) {
      return "This key may not reach your app's users: it needs the users or admin scope (pushlog keys create --name NAME --scope users).";
    }
    if (err.status === 0) return err.message;
    return `The hub answered ${err.status}: ${err.message}`;
  }
  return String(err?.message || err);
}

/**
 * The Api the Notifications view uses: the stored users key if there is one, else the sign-in key when
 * the hub lets it reach the notifications (an admin key). Resolves to `{api}`, or to `{api: null,
 * message}` when a users key must be asked for (`message`: why, when a stored key was refused).
 */
export async function notificationsApi(signInApi) {
  const stored = storedUsersKey();
  if (stored) {
    const api = new Api(stored);
    try {
      await canNotify(api);
      return { api };
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
      forgetUsersKey();
      return { api: null, message: `The stored users key was refused: ${explainUsersKeyError(err)}` };
    }
  }
  try {
    await canNotify(signInApi);
    return { api: signInApi };
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return { api: null, message: "" };
    throw err;
  }
}
