/** Kitewatch's own version (`metadata.product.version` of what it emits); a test keeps it equal to package.json's. */
export const KITEWATCH_VERSION = '0.1.0';
