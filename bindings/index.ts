// Entry point of @rivvi/bindings: the generated procedure map and types, and the client helpers.
export * from "./procedures";
export * from "./client";
