// The range of every number an input may carry: what the planner, the simulator and the runtime
// can take without overflow, an endless run or a meaningless result. The loaders (scenario.cpp,
// profile.cpp, plan.cpp, run_report.cpp) and the command lines check against these, and
// docs/formats.md ("Bounds") states them. Whole numbers that are multiplied together are bounded so
// that their products fit in 64 bits, and are multiplied in 64 bits.
#pragma once

namespace asteroid::limits {

// Cluster.
constexpr int kMaxDevices = 4096;
constexpr double kMinMemoryBytes = 1;
constexpr double kMaxMemoryBytes = 1125899906842624.0;  // 1 PiB
constexpr double kMinSpeedFactor = 1e-3, kMaxSpeedFactor = 1e3;
constexpr double kMinBandwidthBps = 125;     // 1 kbit/s, in bytes per second
constexpr double kMaxBandwidthBps = 1.25e12;  // 10 Tbit/s
constexpr double kMaxLatencyS = 10;
constexpr int kMaxLinks = 100000;  // links of a network graph (switches and media: kMaxDevices each)

// Model and training.
constexpr int kMaxLayers = 100000;
constexpr int kMaxBatchSize = 1 << 20;  // samples per round (and per micro-batch, per trace point)
constexpr int kMaxTraceBatchSizes = 64;
constexpr int kMaxRounds = 1000000;
constexpr double kMaxLayerSeconds = 1e6;  // one layer's forward or backward time at one batch size
constexpr double kMaxLayerBytes = 1099511627776.0;  // 1 TiB: parameters, or activations per sample
constexpr double kMaxLayerFlops = 1e18;             // per sample
constexpr long long kMaxMapFeatures = 1LL << 24;   // a linear map's width, rows per sample, LoRA rank, adapter width
constexpr int kMaxTrainingSelectors = 100000;     // entries of training.fine_tuning.frozen

// Planner.
constexpr double kMaxPlannerTimeLimitS = 86400;

// Faults.
constexpr double kMinHeartbeatIntervalS = 0.01, kMaxHeartbeatIntervalS = 3600;
constexpr int kMaxMissedHeartbeats = 1000;
constexpr int kMaxFaultEvents = 10000;
constexpr double kMaxEventTimeS = 1e7;  // about 116 days
constexpr double kMinSlowdownFactor = 1e-6, kMaxSlowdownFactor = 1e6;

// Reports (what a backend can have written).
constexpr int kMaxPlans = 1000000;
constexpr double kMaxReportTimeS = 1e12;  // any time in a report, either sign

// Power models (power_model.hpp): any power of a device, in watts (an edge board draws 1-100 W; a
// server a few kW).
constexpr double kMaxPowerW = 1e5;
// The energy objective's max_slowdown (objective_planner.hpp), as a fraction: 100x the shortest round.
constexpr double kMaxSlowdown = 100;
// The lifetime objective's deadline (objective_planner.hpp), seconds: as far as any event's time.
constexpr double kMaxDeadlineS = kMaxEventTimeS;
constexpr int kMaxPowerModes = 64;
// A device's battery (battery.hpp): 1 MWh, far above any edge device's.
constexpr double kMaxBatteryJ = 3.6e9;

// JSON.
constexpr int kMaxJsonDepth = 64;  // nesting of arrays and objects in any input file

}  // namespace asteroid::limits
