// How long a network or device an account signed in from stays "known" to it: one-time code budgets
// (modules/otp/known-networks.ts), the new-sign-in notice (modules/devices/known-devices.ts) and the sweep of
// rows older than that (database/housekeeping.ts) all read it here.
export const KNOWN_FOR_DAYS = 90;
