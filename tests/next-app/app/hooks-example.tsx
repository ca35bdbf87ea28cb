"use client";
import { QueryClient } from "@tanstack/react-query";
import { createRivviClient } from "@rivvi/bindings";
import { rspc } from "./rspc";

const client = createRivviClient({ url: "http://127.0.0.1:3000", getToken: async () => null });
const queryClient = new QueryClient();

function Organization() {
  const org = rspc.useQuery(["organizations.getCurrent"]);
  return <span>{org.data?.name}</span>;
}

export function HooksExample() {
  return (
    <rspc.Provider client={client} queryClient={queryClient}>
      <Organization />
    </rspc.Provider>
  );
}
