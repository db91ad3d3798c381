// A client is made from its configuration: those who import the client get the configuration too.
@_exported import APIConfiguration
