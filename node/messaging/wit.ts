// The WIT node/messaging needs, in code so that a node reads no WIT files at run time (the npm package's dist/ has none
// beside the modules); test/node/messaging/wit.test.ts checks both against their files byte for byte.

/** `wit/messaging/messaging.wit`: `wasmesh:messaging@0.1.0`. */
export const messagingWit = `// What the messaging layer publishes on /wasmesh/<lattice>/messaging/1 (one record per gossip message, gossipsub's
// signature over it), and the world of the consumer each node serves its own components.
package wasmesh:messaging@0.1.0;

interface gossip {
  record published {
    /// grows with every message of one publisher (from its start time, so a restart keeps growing)
    seq: u64,
    subject: string,
    body: list<u8>,
    reply-to: option<string>,
  }
}

/// Request-reply between nodes: a requester asks a node with a matching subscriber, which hands the request to one
/// of them with a reply-to inbox of its own and answers with the first message published to that inbox.
interface requests {
  use wasmcloud:messaging/types@0.2.0.{broker-message};

  variant answer {
    reply(broker-message),
    /// no subscriber of this node matches the subject: ask another node
    no-subscriber,
    /// the subscriber failed, did not reply in time, or the node is overloaded
    failed(string),
  }

  request: func(msg: broker-message, timeout-ms: u32) -> answer;
}

world consumer {
  export wasmcloud:messaging/consumer@0.2.0;
}

world requests-server {
  export requests;
}
`

/** `wit/deps/wasmcloud-messaging-0.2.0/package.wit`: `wasmcloud:messaging@0.2.0`, as wasmCloud publishes it. */
export const wasmcloudMessagingWit = `package wasmcloud:messaging@0.2.0;

/// Types common to message broker interactions
interface types {
  /// A message sent to or received from a broker
  record broker-message {
    subject: string,
    body: list<u8>,
    reply-to: option<string>,
  }
}

interface handler {
  use types.{broker-message};

  /// Callback handled to invoke a function when a message is received from a subscription
  handle-message: func(msg: broker-message) -> result<_, string>;
}

interface consumer {
  use types.{broker-message};

  /// Perform a request operation on a subject
  request: func(subject: string, body: list<u8>, timeout-ms: u32) -> result<broker-message, string>;

  /// Publish a message to a subject without awaiting a response
  publish: func(msg: broker-message) -> result<_, string>;
}

`
