/** The shortest `DASHBOARD_PASSWORD` the dashboard accepts (a generated one is 24 characters). */
export const MIN_PASSWORD_LENGTH = 12;
