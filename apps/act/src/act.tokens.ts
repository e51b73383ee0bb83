/** Injection token of the app's `IdGenerator` (new request ids), so tests can make ids predictable. */
export const ID_GENERATOR = Symbol('ID_GENERATOR');
