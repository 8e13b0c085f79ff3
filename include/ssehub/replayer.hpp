// Last-Event-ID replay, all of it: the `replayer` concept
// (replay/replayer.hpp), its type erasure any_replayer
// (replay/any_replayer.hpp) and the built-in memory_replayer
// (replay/memory_replayer.hpp). Include the one you need, or this.
#pragma once

#include "ssehub/replay/any_replayer.hpp"
#include "ssehub/replay/memory_replayer.hpp"
#include "ssehub/replay/replayer.hpp"
