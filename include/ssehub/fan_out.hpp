// Fan-out: bridge an external broker into a hub. This header gathers the
// area's two headers:
//   <ssehub/fan_out/pubsub_subscriber.hpp>  the concept a broker client models
//   <ssehub/fan_out/bridge.hpp>             ssehub::fan_out(hub, subscriber, config)
#pragma once

#include "ssehub/fan_out/bridge.hpp"
#include "ssehub/fan_out/pubsub_subscriber.hpp"
