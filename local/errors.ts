/** A failure of the local setup, with a message that says what to do. */
export class LocalSetupError extends Error {
  override readonly name = 'LocalSetupError';
}
