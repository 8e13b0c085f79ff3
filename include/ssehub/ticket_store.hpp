// One-time tickets for EventSource. This header gathers the area's headers:
//   <ssehub/auth/ticket_store.hpp>         the concept, issue_ticket
//   <ssehub/auth/any_ticket_store.hpp>     its type erasure
//   <ssehub/auth/memory_ticket_store.hpp>  the built-in store
#pragma once

#include "ssehub/auth/any_ticket_store.hpp"
#include "ssehub/auth/memory_ticket_store.hpp"
#include "ssehub/auth/ticket_store.hpp"
