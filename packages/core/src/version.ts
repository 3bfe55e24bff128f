/** The recorder's version, written into every snapshot's metadata. */
export const VERSION = '0.1.0'
