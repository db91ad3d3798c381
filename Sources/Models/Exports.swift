// The models speak the same UUID and hex text as the store: those who import the models get it too.
@_exported import TextCodec
