// Integration tests boot a service and talk to real Postgres and NATS; Jest's 5 s default is for unit tests.
jest.setTimeout(60_000);
