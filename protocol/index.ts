// The public API of wasmesh's protocol library: WIT, values, WAVE, wRPC framing and sessions. Pure: runs in a browser untouched.

export { parseWit, WitSyntaxError, WitResolveError, printType, printFunc, printInterface, printWorld, printWit } from './wit/index.ts'
export type * from './wit/model.ts'
export type { WitErrorCode, WitLocation, WitLimits } from './wit/index.ts'

export { encodeValue, decodeValue, encodeValues, decodeValues, decodeValuesPrefix, ValueReader, ValueWriter } from './value.ts'
export type { EncodeOptions, DecodeOptions } from './value.ts'
export { printWave, parseWave } from './wave.ts'

export { encodeFrame, encodeHeader, encodeOpening, encodeErrorFrame, FrameDecoder, FRAME_VERSION, ERROR_PATH_INDEX } from './frame.ts'
export type { Header, Frame, FrameItem, FrameLimits, FrameDecoderOptions } from './frame.ts'
export { invoke, serve, RemoteError, SessionError } from './session.ts'
export type { Handlers, ServedFunction, CallContext, InvokeOptions, ServeOptions, InvokeError } from './session.ts'
export { createTransportPair } from './transport.ts'
export type { Transport, TransportPairOptions } from './transport.ts'

export { ProtocolError } from './errors.ts'
export type { ProtocolErrorCode } from './errors.ts'
export { defaultValueLimits, defaultSessionLimits } from './limits.ts'
export type { ValueLimits, SessionLimits } from './limits.ts'
