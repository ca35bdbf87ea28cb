"use client";
// The React Query example of bindings/README.md, rendered (so it is bundled, not only type-checked).
import { HooksExample } from "../hooks-example";

export default function HooksPage() {
  return <HooksExample />;
}
