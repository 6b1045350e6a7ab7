#include "platform.hpp"

#include <simgrid/kernel/ProfileBuilder.hpp>

#include <algorithm>
#include <map>
#include <sstream>

namespace sg4 = simgrid::s4u;

namespace asteroid::sim {
namespace {

// "0 1\n<t> <cumulative factor>\n..." for a device's slowdowns, or nullptr when it has none.
simgrid::kernel::profile::Profile* speed_profile(const std::string& device, const FaultSpec& f) {
  std::vector<const FaultEvent*> mine;
  for (const FaultEvent& e : f.events)
    if (e.device == device && e.kind == FaultKind::slowdown) mine.push_back(&e);
  if (mine.empty()) return nullptr;
  std::sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->time_s < b->time_s; });
  std::ostringstream os;
  os.precision(17);
  double factor = 1.0;
  if (mine.front()->time_s > 0) os << "0 1\n";
  for (const FaultEvent* e : mine) {
    factor *= e->factor;
    os << e->time_s << " " << factor << "\n";
  }
  return simgrid::kernel::profile::ProfileBuilder::from_string("speed_" + device, os.str(), -1);
}

// One device's host: the profile's time as flops at kHostSpeed, its memory and type as properties,
// its slowdowns as a speed profile.
sg4::Host* device_host(sg4::NetZone* zone, const Device& d, const FaultSpec& faults) {
  sg4::Host* h = zone->create_host(d.name, kHostSpeed);
  h->set_property("memory_bytes", std::to_string((long long)d.memory_bytes));
  h->set_property("type", d.type);
  if (auto* prof = speed_profile(d.name, faults)) h->set_speed_profile(prof);
  return h->seal();
}

}  // namespace

// With pairwise overrides a star zone cannot say that two devices talk over a link of their own, so
// the zone routes every pair explicitly: through the two devices' switch links as in the star, or
// over a dedicated link with the override's bandwidth and latency. O(devices^2) routes, which is why
// the plain star (O(devices)) stays the default.
Platform build_overridden_star(const Cluster& c, const NetworkSpec& net, const FaultSpec& faults) {
  Platform p;
  auto* zone = sg4::create_full_zone("cluster");
  std::vector<sg4::Host*> all;
  for (const Device& d : c.devices) {
    sg4::Host* h = device_host(zone, d, faults);
    p.hosts.push_back(h);
    all.push_back(h);
  }
  p.coordinator = zone->create_host("coordinator", kHostSpeed)->seal();
  all.push_back(p.coordinator);
  std::vector<sg4::Link*> nic;
  for (sg4::Host* h : all)
    nic.push_back(zone->create_split_duplex_link("link_" + h->get_name(), net.bandwidth_Bps)
                      ->set_latency(net.latency_s / 2)
                      ->seal());
  p.links.assign(nic.begin(), nic.begin() + c.size());
  for (size_t a = 0; a < all.size(); ++a)
    for (size_t b = a + 1; b < all.size(); ++b) {
      const LinkOverride* o = nullptr;
      for (const LinkOverride& x : net.overrides)
        if ((x.a == all[a]->get_name() && x.b == all[b]->get_name()) ||
            (x.b == all[a]->get_name() && x.a == all[b]->get_name()))
          o = &x;
      std::vector<sg4::LinkInRoute> route;
      if (o) {
        auto* l = zone->create_split_duplex_link("pair_" + all[a]->get_name() + "_" + all[b]->get_name(),
                                                 o->bandwidth_Bps)
                      ->set_latency(o->latency_s)
                      ->seal();
        route = {{l, sg4::LinkInRoute::Direction::UP}};
      } else {
        route = {{nic[a], sg4::LinkInRoute::Direction::UP}, {nic[b], sg4::LinkInRoute::Direction::DOWN}};
      }
      zone->add_route(all[a]->get_netpoint(), all[b]->get_netpoint(), nullptr, nullptr, route, true);
    }
  zone->seal();
  return p;
}

Platform build_platform(const Cluster& c, const NetworkSpec& net, const FaultSpec& faults) {
  if (net.topology == Topology::star && !net.overrides.empty()) return build_overridden_star(c, net, faults);
  Platform p;
  auto* zone = sg4::create_star_zone("cluster");
  sg4::Link* air = nullptr;
  if (net.topology == Topology::wifi) {
    air = zone->create_link("air", net.bandwidth_Bps)->set_latency(net.latency_s)->seal();
  }
  auto attach = [&](sg4::Host* h) {
    if (air) {
      zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {sg4::LinkInRoute(air)}, true);
      p.links.push_back(air);
      return;
    }
    auto* l = zone->create_split_duplex_link("link_" + h->get_name(), net.bandwidth_Bps)
                  ->set_latency(net.latency_s / 2)
                  ->seal();
    zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {{l, sg4::LinkInRoute::Direction::UP}},
                    true);
    p.links.push_back(l);
  };
  for (const Device& d : c.devices) {
    sg4::Host* h = device_host(zone, d, faults);
    p.hosts.push_back(h);
    attach(h);
  }
  p.coordinator = zone->create_host("coordinator", kHostSpeed)->seal();
  attach(p.coordinator);
  p.links.pop_back();  // links[] is per device only
  zone->seal();
  return p;
}

}  // namespace asteroid::sim
