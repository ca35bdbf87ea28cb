// The React Query example of bindings/README.md (@rspc/react-query with the override it describes).
import { createReactQueryHooks } from "@rspc/react-query";
import type { Procedures } from "@rivvi/bindings";
export const rspc = createReactQueryHooks<Procedures>();
