/** Whether this process printed its --json report already; main.ts prints one for failures otherwise. */
export const reportState = { printed: false };
