/**
 * The recorder's version, written into every snapshot's metadata
 * (`metadata.flightrec.recorderVersion`).
 *
 * @example
 * console.log(`flightrec ${VERSION}`)
 */
export const VERSION = '0.1.0'
